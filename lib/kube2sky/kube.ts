/** Kubernetes API client selection, as kube2sky 1.14 did it (spec/kube2sky.md §1.2). */
import { KubeConfig } from '@kubernetes/client-node';

export function kubeConfigFor(masterUrl: string, kubeconfigPath: string): { kc: KubeConfig; how: string } {
  const kc = new KubeConfig();
  if (masterUrl && !kubeconfigPath) {
    kc.loadFromClusterAndUser({ name: 'master', server: masterUrl, skipTLSVerify: true }, { name: 'anonymous' });
    return { kc, how: `${masterUrl} (no credentials)` };
  }
  if (kubeconfigPath) {
    kc.loadFromFile(kubeconfigPath);
    if (masterUrl) {
      const current = kc.getCurrentCluster();
      const clusters = kc.clusters.map((c) => (current && c.name === current.name ? { ...c, server: masterUrl } : c));
      kc.loadFromOptions({ clusters, users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
    }
    return { kc, how: `${kc.getCurrentCluster()?.server ?? '(no server)'} (kubeconfig ${kubeconfigPath})` };
  }
  kc.loadFromCluster();
  return { kc, how: `${kc.getCurrentCluster()?.server ?? '(no server)'} (in-cluster service account)` };
}
