package agent

import (
	"strings"

	"github.com/belay-dev/belay/internal/agent/proxy"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	labels       = []string{"service", "version", "environment"}
	descRequests = prometheus.NewDesc("belay_requests_total", "Requests answered per version, by code class (proxy_error: no answer from an instance).", append(labels, "code_class"), nil)
	descErrors   = prometheus.NewDesc("belay_request_errors_total", "Requests answered 5xx or failed in the proxy, per version.", labels, nil)
	descInFlight = prometheus.NewDesc("belay_requests_in_flight", "Requests being served per version.", labels, nil)
	descLatency  = prometheus.NewDesc("belay_request_duration_seconds", "Request latency through the proxy per version.", labels, nil)
	descHealth   = prometheus.NewDesc("belay_health_check_failures_total", "Failed health checks of ready instances per version.", labels, nil)
	descRestarts = prometheus.NewDesc("belay_instance_restarts_total", "Instance restarts per version.", labels, nil)
	descReady    = prometheus.NewDesc("belay_instances_ready", "Instances in the pool per version.", labels, nil)
	descWeight   = prometheus.NewDesc("belay_version_weight_percent", "Share of traffic in force per version.", labels, nil)
	descShadow   = prometheus.NewDesc("belay_shadow_pairs_total", "Mirrored copies answered, by the outcome of the pair (the user's answer, the copy's).", append(labels, "outcome"), nil)
	descDropped  = prometheus.NewDesc("belay_shadow_dropped_total", "Requests chosen for mirroring but not copied, by reason (no_sample: replaying an empty sample, once per replay round).", append(labels, "reason"), nil)
	descSample   = prometheus.NewDesc("belay_replay_sample_requests", "Recent requests the service's proxy keeps for another environment to replay.", []string{"service", "environment"}, nil)
	descLogsSent = prometheus.NewDesc("belay_agent_log_lines_forwarded_total", "Instance log lines the log forwarding endpoint accepted.", []string{"service", "environment"}, nil)
	descLogsDrop = prometheus.NewDesc("belay_agent_log_lines_dropped_total", "Instance log lines rotated out of the live log file before they were forwarded.", []string{"service", "environment"}, nil)
	descLogsErrs = prometheus.NewDesc("belay_agent_log_forward_errors_total", "Batches of log lines the endpoint refused or did not answer (each sent again later).", []string{"service", "environment"}, nil)
)

// collector exposes the agent's per-version measurements to Prometheus.
type collector struct{ a *Agent }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descErrors, descInFlight, descLatency, descHealth, descRestarts, descReady, descWeight, descShadow, descDropped, descSample, descLogsSent, descLogsDrop, descLogsErrs} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.a.sorted() {
		ch <- prometheus.MustNewConstMetric(descSample, prometheus.GaugeValue, float64(s.proxy.SampleSize()), s.key.service, s.key.env)
		s.mu.Lock()
		if ls := s.logStats; ls != nil {
			ch <- prometheus.MustNewConstMetric(descLogsSent, prometheus.CounterValue, float64(ls.forwarded.Load()), s.key.service, s.key.env)
			ch <- prometheus.MustNewConstMetric(descLogsDrop, prometheus.CounterValue, float64(ls.dropped.Load()), s.key.service, s.key.env)
			ch <- prometheus.MustNewConstMetric(descLogsErrs, prometheus.CounterValue, float64(ls.errors.Load()), s.key.service, s.key.env)
		}
		for _, v := range s.versions {
			lv := []string{s.key.service, v.spec.Version, s.key.env}
			sn := v.stats.Snapshot()
			for i, n := range sn.ByClass {
				ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(n), append(lv, proxy.ClassNames[i])...)
			}
			ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(sn.Errors), lv...)
			ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(sn.InFlight), lv...)
			ch <- histogram(sn, lv)
			ch <- prometheus.MustNewConstMetric(descHealth, prometheus.CounterValue, float64(v.failures.Load()), lv...)
			ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(v.restarts()), lv...)
			ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, float64(v.ready()), lv...)
			ch <- prometheus.MustNewConstMetric(descWeight, prometheus.GaugeValue, v.weight, lv...)
			if st := s.shadows[v.spec.Version]; st != nil {
				shadowMetrics(ch, st.Snapshot(), lv)
			}
		}
		s.mu.Unlock()
	}
}

func shadowMetrics(ch chan<- prometheus.Metric, sn proxy.ShadowSnapshot, lv []string) {
	for outcome, n := range map[string]int64{"both_ok": sn.BothOK, "new_failed": sn.ShadowFailed, "stable_failed": sn.StableFailed, "both_failed": sn.BothFailed} {
		ch <- prometheus.MustNewConstMetric(descShadow, prometheus.CounterValue, float64(n), append(lv, outcome)...)
	}
	for i, n := range sn.Dropped {
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(n), append(lv, proxy.DropReasonNames[i])...)
	}
}

// histogram converts per-bucket counts to Prometheus' cumulative buckets.
// The sum is estimated from bucket middles, as the proxy keeps no exact sum.
func histogram(sn proxy.Snapshot, lv []string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(proxy.LatencyBounds))
	var cum uint64
	var sum float64
	for i, b := range proxy.LatencyBounds {
		cum += uint64(sn.Buckets[i])
		buckets[b] = cum
		if sn.Buckets[i] > 0 {
			sum += float64(sn.Buckets[i]) * proxy.Quantile(0.5, oneBucket(i))
		}
	}
	cum += uint64(sn.Buckets[len(proxy.LatencyBounds)])
	return prometheus.MustNewConstHistogram(descLatency, cum, sum, buckets, lv...)
}

func oneBucket(i int) []int64 {
	b := make([]int64, i+1)
	b[i] = 1
	return b
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
