// The RBAC analysis behind `kubectl countersign doctor`: which agent identities the policy would miss, and which
// rights they hold that reach around the guard. Pure: it reads the RBAC objects it is given and reports.
export { diagnose, type AgentReport, type DoctorReport, type Finding } from './analysis.js';
export { ALL, ruleGrants, WRITE_VERBS, type BindingObject, type PolicyRule, type RbacObjects, type Target } from './rights.js';
