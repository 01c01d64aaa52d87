// Builders for the AdmissionReview answer; every one carries the request's uid.
import type { AdmissionResponse, AdmissionReviewResponse } from '../kube/types.js';

export function reviewResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/**
 * An explicit refusal for an internal failure. Answering `allowed: false` (rather than an HTTP 500) makes the
 * apiserver refuse the request whatever the webhook's failurePolicy says: agents never get through on our errors.
 */
export function erroredResponse(uid: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code: 500, reason: 'InternalError', message } };
}
