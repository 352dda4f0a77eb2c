package proxy

import (
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
)

// weightUnits is the resolution of a split: 1/100000 of the traffic (0.001 %).
const weightUnits = 100000

// Route is one version's share of traffic and its healthy instances.
type Route struct {
	Version  string
	Weight   float64 // percent
	Stats    *Stats
	Backends []*Backend // healthy instances only
	rr       atomic.Uint32
}

// Sticky names what keeps a client on one version.
type Sticky struct {
	Header string
	Cookie string // set on the answer when the request has none
}

// Table is an immutable routing decision: it is built whole and swapped in
// atomically, so a weight change applies exactly from the next request.
type Table struct {
	routes        []*Route
	cum           []uint32 // cumulative weight units
	sticky        Sticky
	versionHeader string
	shadow        *Shadow // nil: no copies (see WithShadow)
	replay        *Shadow // nil: no replay (see Proxy.Replay)
}

// NewTable builds a table. Weights are percentages and need not add up to
// exactly 100 (they are normalised); a route with weight 0 gets no traffic
// while another route has healthy instances.
func NewTable(routes []*Route, sticky Sticky, versionHeader string) *Table {
	t := &Table{routes: routes, cum: make([]uint32, len(routes)), sticky: sticky, versionHeader: versionHeader}
	var sum float64
	for _, r := range routes {
		sum += max(r.Weight, 0)
	}
	var acc float64
	for i, r := range routes {
		acc += max(r.Weight, 0)
		if sum > 0 {
			t.cum[i] = uint32(acc/sum*weightUnits + 0.5)
		}
	}
	return t
}

// Routes are the table's routes, in order.
func (t *Table) Routes() []*Route { return t.routes }

// pick chooses the route for a request: the version it pins, else by its
// sticky key, else at random by weight. A nil r (the front's requests,
// which are never pinned or sticky) picks at random. cookie, when not
// empty, is a new sticky key for the answer to set (see setCookie).
func (t *Table) pick(r *http.Request) (route *Route, cookie string) {
	var key string
	if r != nil {
		if rt := t.pinned(r); rt != nil {
			return rt, ""
		}
		key, cookie = t.stickyKey(r)
	}
	var n uint32
	if key != "" {
		n = fnv32a(key) % weightUnits
	} else {
		n = rand.Uint32N(weightUnits)
	}
	for i, c := range t.cum {
		if n < c {
			if r := t.routes[i]; len(r.Backends) > 0 {
				return r, cookie
			}
			break
		}
	}
	return t.fallback(), cookie
}

// pinned is the route a request from this host names in the version
// header: smoke tests reach a new version through the proxy before it has
// any share of the traffic. Remote clients cannot pin, so users never pick.
func (t *Table) pinned(r *http.Request) *Route {
	if t.versionHeader == "" {
		return nil
	}
	v := r.Header.Get(t.versionHeader)
	if v == "" || !fromLoopback(r.RemoteAddr) {
		return nil
	}
	for _, rt := range t.routes {
		if rt.Version == v && len(rt.Backends) > 0 {
			return rt
		}
	}
	return nil
}

func fromLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// fallback is a route with healthy instances when the chosen one has none:
// first one that has weight, then any, so that a client is served rather than refused.
func (t *Table) fallback() *Route {
	for _, r := range t.routes {
		if r.Weight > 0 && len(r.Backends) > 0 {
			return r
		}
	}
	for _, r := range t.routes {
		if len(r.Backends) > 0 {
			return r
		}
	}
	return nil
}

// stickyKey is the key that keeps the client on one version; a client with
// none gets a new one, returned as cookie too when the table sets cookies.
func (t *Table) stickyKey(r *http.Request) (key, cookie string) {
	if t.sticky.Header != "" {
		if v := r.Header.Get(t.sticky.Header); v != "" {
			return v, ""
		}
	}
	if t.sticky.Cookie == "" {
		return "", ""
	}
	if c, err := r.Cookie(t.sticky.Cookie); err == nil && c.Value != "" {
		return c.Value, ""
	}
	v := strconv.FormatUint(rand.Uint64(), 36)
	return v, v
}

// setCookie gives the client the sticky key pick chose for it.
func (t *Table) setCookie(w http.ResponseWriter, v string) {
	http.SetCookie(w, &http.Cookie{Name: t.sticky.Cookie, Value: v, Path: "/", MaxAge: 30 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// unavailable is the body of the 503 answered when pick finds no route:
// a service whose desired state lists no version is told apart from one
// whose instances are all unhealthy.
func (t *Table) unavailable() string {
	if len(t.routes) == 0 {
		return noVersion
	}
	return noHealthy
}

const (
	noVersion = "no version of this service is deployed"
	noHealthy = "no healthy instance"
)

// next balances round-robin across the route's healthy instances.
func (r *Route) next() *Backend {
	return r.Backends[int(r.rr.Add(1)%uint32(len(r.Backends)))]
}

// other is a healthy instance of the route other than b, or nil.
func (r *Route) other(b *Backend) *Backend {
	n := len(r.Backends)
	start := int(r.rr.Add(1) % uint32(n))
	for i := range n {
		if c := r.Backends[(start+i)%n]; c != b && c.Addr != b.Addr {
			return c
		}
	}
	return nil
}

// fnv32a is FNV-1a over a string without the allocation of hash/fnv.
func fnv32a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
