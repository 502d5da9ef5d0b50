package runtime

import (
	"slices"
	"testing"
)

func TestParseWaitConditions(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
		bad  bool
	}{
		{nil, []string{"stopped"}, false},
		{[]string{"exited"}, []string{"exited"}, false},
		{[]string{"healthy", "exited"}, []string{"healthy", "exited"}, false},
		{[]string{"running", "created", "paused", "unhealthy", "stopped"}, []string{"running", "created", "paused", "unhealthy", "stopped"}, false},
		{[]string{"Running"}, nil, true},
		{[]string{"exited", "removing"}, nil, true},
		{[]string{""}, nil, true},
	} {
		got, err := ParseWaitConditions(tc.in)
		if tc.bad != (err != nil) || (!tc.bad && !slices.Equal(got, tc.want)) {
			t.Errorf("ParseWaitConditions(%q) = %q, %v", tc.in, got, err)
		}
	}
	if !WaitsForExit([]string{"stopped", "exited"}) || WaitsForExit([]string{"exited", "running"}) {
		t.Error("want only stopped and exited to be the exit")
	}
}

func TestInStateReadsStatusAndHealth(t *testing.T) {
	healthy := &HealthState{Status: HealthHealthy}
	for _, tc := range []struct {
		name   string
		state  State
		states []string
		want   bool
	}{
		{"running", State{Status: StatusRunning}, []string{"running"}, true},
		{"paused is not running", State{Status: StatusRunning, Paused: true}, []string{"running"}, false},
		{"paused", State{Status: StatusRunning, Paused: true}, []string{"paused"}, true},
		{"created is stopped", State{Status: StatusCreated}, []string{"stopped"}, true},
		{"exited", State{Status: StatusExited}, []string{"running", "exited"}, true},
		{"healthy", State{Status: StatusRunning, Health: healthy}, []string{"healthy"}, true},
		{"health of an exited container", State{Status: StatusExited, Health: healthy}, []string{"healthy"}, false},
		{"unhealthy wanted", State{Status: StatusRunning, Health: healthy}, []string{"unhealthy"}, false},
		{"no health yet", State{Status: StatusRunning}, []string{"healthy"}, false},
	} {
		if got := inState(&Container{State: tc.state}, tc.states); got != tc.want {
			t.Errorf("%s: inState(%q) = %v, want %v", tc.name, tc.states, got, tc.want)
		}
	}
}
