package spec

// applyDefaults fills the documented defaults into a valid project, so that
// callers never repeat them.
func (p *Project) applyDefaults() {
	if p.Artifacts == nil {
		p.Artifacts = &Artifacts{}
	}
	if p.Artifacts.Store == "" {
		p.Artifacts.Store = "local"
	}
	for _, e := range p.Environments {
		if e.Target == "" {
			e.Target = TargetLocal
		}
		if e.AutoRollback == nil {
			t := true
			e.AutoRollback = &t
		}
		if e.OnRejectedDownstream == "" {
			e.OnRejectedDownstream = DownstreamKeep
		}
		if e.Kubernetes != nil {
			e.Kubernetes.applyDefaults()
		}
	}
	for _, s := range p.Services {
		s.HealthCheck.applyDefaults()
		for _, t := range s.SmokeTests {
			t.applyDefaults()
		}
		s.Rollout.applyDefaults()
		for _, o := range s.Environments {
			if o != nil && o.Rollout != nil {
				o.Rollout.applyDefaults()
			}
		}
		if s.Analysis == nil {
			s.Analysis = &Analysis{}
		}
		s.Analysis.applyDefaults()
	}
}

func (a *Analysis) applyDefaults() {
	if a.Alpha == 0 {
		a.Alpha = DefaultAlpha
	}
	if a.MinEffect == 0 {
		a.MinEffect = DefaultMinEffect
	}
	if a.MinRequests == 0 {
		a.MinRequests = DefaultMinRequests
	}
	if a.NoData == "" {
		a.NoData = NoDataHold
	}
	if a.Inconclusive == "" {
		a.Inconclusive = InconclusiveExtend
	}
	if a.Source == "" {
		a.Source = SourceBuiltin
	}
	if a.Test == "" {
		a.Test = TestMSPRT
	}
	if a.Prometheus != nil && a.Prometheus.Timeout == 0 {
		a.Prometheus.Timeout = DefaultPromTimeout
	}
}
