package cli

import (
	"github.com/belay-dev/belay/internal/kubeinstall"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newK8sCmd) }

func newK8sCmd(_ *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "k8s",
		Short: "Run belay's server in a Kubernetes cluster",
	}
	cmd.AddCommand(k8sManifests())
	return cmd
}

func k8sManifests() *cobra.Command {
	var o kubeinstall.Options
	cmd := &cobra.Command{
		Use:   "manifests",
		Short: "Print the YAML that runs belay's server in a cluster, with PostgreSQL as its store",
		Long: "manifests prints plain YAML for `kubectl apply -f -`: a Namespace, a ServiceAccount, a Role and\n" +
			"RoleBinding with what the Kubernetes target needs in each --target-namespace, a Deployment of\n" +
			"--replicas servers (one leads through the store's lease; the others take over when it dies) and a\n" +
			"Service on port 8443. No value is printed: the store's URL, the API's TLS certificate and belay.yaml\n" +
			"come from the Secrets and the ConfigMap it names, which you create (docs/kubernetes.md).\n" +
			"The output is YAML whatever -o says.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			y, err := kubeinstall.YAML(o)
			if err != nil {
				return usageError{err}
			}
			_, err = cmd.OutOrStdout().Write(y)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Image, "image", "", "belay's image by digest, REPO@sha256:… (required)")
	fl.StringVar(&o.Namespace, "namespace", "belay", "the namespace the server runs in (created by the output)")
	fl.StringSliceVar(&o.TargetNamespaces, "target-namespace", nil, "a namespace the server deploys services into (belay.yaml's kubernetes.namespace); repeat for several (default --namespace)")
	fl.Int32Var(&o.Replicas, "replicas", 2, "server replicas; one leads the rollouts at a time")
	fl.StringVar(&o.StoreSecret, "store-secret", "belay-store", "the Secret whose key url is the PostgreSQL URL (BELAY_STATE)")
	fl.StringVar(&o.TLSSecret, "tls-secret", "belay-tls", "the kubernetes.io/tls Secret with the API's certificate")
	fl.StringVar(&o.ProjectConfigMap, "project-configmap", "belay-project", "the ConfigMap holding belay.yaml (and the key files it names)")
	fl.StringVar(&o.EnvSecret, "env-secret", "belay-env", "an optional Secret of more environment variables (e.g. the variables fleet hosts' token_env name)")
	fl.StringVar(&o.AgeSecret, "age-secret", "belay-age", "an optional Secret of the environments' age identities (ENV.key), to decrypt their secrets")
	return cmd
}
