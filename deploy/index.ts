// Public face of deploy/: the install manifests (`strait manifests`, deploy/strait.yaml) built from the CRDs and
// each component's declared Kubernetes access.
export { installObjects, renderManifests, defaultInstallOptions, type InstallOptions } from './install-manifests.js';
export { rbacObjectsOf, policyRuleOf, serviceAccountName } from './rbac-objects.js';
export { IMAGE_PATHS, HOST_PATHS } from './workload-objects.js';
export { manifestsHeader } from './manifests-header.js';
