package app

import (
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

var (
	descMembers = prometheus.NewDesc("actorserve_cluster_members", "Cluster members this node sees, itself included.", nil, nil)
	descFences  = prometheus.NewDesc("actorserve_cluster_fences_total", "Times this node fenced itself after the cluster declared it dead.", nil, nil)
	descBuild   = prometheus.NewDesc("actorserve_build_info", "Build information; the value is always 1.", []string{"version", "revision", "goversion"}, nil)
)

// nodeCollector exports cluster-level facts and build info.
type nodeCollector struct{ n *Node }

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMembers
	ch <- descFences
	ch <- descBuild
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(len(c.n.Cluster.Members())))
	ch <- prometheus.MustNewConstMetric(descFences, prometheus.CounterValue, float64(c.n.Cluster.Fences()))
	version, revision, goversion := "(devel)", "", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, goversion = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(descBuild, prometheus.GaugeValue, 1, version, revision, goversion)
}

// registerMetrics registers every collector of a node on its own registry
// (never the global one).
func registerMetrics(reg *prometheus.Registry, n *Node, maxModels int) error {
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		n.Host.Collector(maxModels),
		nodeCollector{n},
	}
	if n.decisions != nil {
		cs = append(cs, n.decisions)
	}
	if n.Ingress != nil {
		cs = append(cs, n.Ingress)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
