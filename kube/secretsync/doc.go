// Package secretsync keeps Kubernetes Secrets and SecretProviderClassPodStatus
// objects in step with the volumes a node has mounted: the `secretObjects`
// of a SecretProviderClass become Secrets, created when a pod mounts the
// volume, rewritten when the node cache reports a new Key Vault version, and
// deleted when the last pod that mounts them is gone.
//
// Writer implements volume.Observer. Its methods only record what happened
// and queue the mount's target path, because they run on the CSI mount path
// and on the cache's change dispatcher; Writer's own workers talk to the API
// server, retrying with exponential backoff (client-go's workqueue) when it
// fails, is unreachable, or answers with a conflict. Each reconcile computes
// the whole desired state again from the volume and the class, so a retry
// after an outage cannot lose an update: nothing is remembered but "this
// target needs a look". A periodic resync (Options.Resync) gives every
// mounted volume that look anyway, so a Secret someone deleted comes back.
//
// Lifetime. Upstream deletes a synced Secret when the pod that created it
// goes, which breaks rolling updates (the new pod still mounts it), and
// keeps it forever on scale to zero. Here each Secret lists every pod that
// mounts it as an owner: each node's writer adds its pod on mount and
// removes it on unmount, deleting the Secret itself when it removed the last
// owner (with a resourceVersion precondition, so a pod another node added
// a moment ago wins). Should a node die before it unmounts, the Kubernetes
// garbage collector deletes a Secret whose owners are all gone.
//
// Safety. A Secret without the label secrets-store.csi.k8s.io/managed=true
// was not created by a sync writer and is never changed or deleted: the
// pod gets a FailedToCreateSecret event and sync_k8s_secret_error_total
// counts it. Secret values never appear in logs, events, errors or metrics;
// the pod's credentials in a csi.MountRequest are never kept.
package secretsync
