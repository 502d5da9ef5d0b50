package cmd

import (
	"encoding/json"
	"testing"

	"github.com/den-project/den/netstack"
)

func TestWithUnpublishedShowsExposedPortsAsNull(t *testing.T) {
	published := map[string][]inspectPortBinding{"80/tcp": {{HostIP: "", HostPort: "8080"}}}
	for _, tc := range []struct {
		name    string
		exposed []string
		mode    string
		want    string
	}{
		{"none exposed", nil, netstack.ModeSlirp, `{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}`},
		{"published stays", []string{"80/tcp"}, netstack.ModeSlirp, `{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}`},
		{"others are null", []string{"53/udp", "9000"}, netstack.ModeNone, `{"53/udp":null,"80/tcp":[{"HostIp":"","HostPort":"8080"}],"9000/tcp":null}`},
		{"host network", []string{"53/udp"}, netstack.ModeHost, `{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}`},
		{"another container's network", []string{"53/udp"}, netstack.ModeContainer, `{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}`},
	} {
		b, err := json.Marshal(withUnpublished(published, tc.exposed, tc.mode))
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: want %s, got %s (%v)", tc.name, tc.want, b, err)
		}
	}
	if len(published) != 1 {
		t.Errorf("want the published map left as it was, got %v", published)
	}
}
