// A small but real environment: what the incident's agent was asked to fix, and then tried to delete.
export function shopManifest(namespace: string, environment: string): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${namespace}
  labels: {environment: ${environment}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shop-config, namespace: ${namespace}}
data: {LOG_LEVEL: info, CHECKOUT_TIMEOUT: "30s"}
---
apiVersion: v1
kind: Secret
metadata: {name: shop-db, namespace: ${namespace}}
stringData: {password: not-a-real-password}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: orders-data, namespace: ${namespace}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${namespace}, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: registry.example/shop/web:1.4.2
          envFrom: [{configMapRef: {name: shop-config}}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${namespace}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`;
}
