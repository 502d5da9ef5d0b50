package image

import (
	"encoding/json"
	"fmt"
	"strings"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ApplyChange applies one Dockerfile-style instruction of --change to an image config:
// CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL.
func ApplyChange(cfg *imgspecv1.ImageConfig, change string) error {
	instr, arg, _ := strings.Cut(strings.TrimSpace(change), " ")
	if strings.Contains(instr, "=") {
		// "CMD=..." is accepted by podman too.
		instr, arg, _ = strings.Cut(strings.TrimSpace(change), "=")
	}
	arg = strings.TrimSpace(arg)
	bad := func(why string) error {
		return fmt.Errorf("--change %q: %s", change, why)
	}
	switch strings.ToUpper(instr) {
	case "CMD", "ENTRYPOINT":
		args, err := execForm(arg)
		if err != nil {
			return bad(err.Error())
		}
		if strings.ToUpper(instr) == "CMD" {
			cfg.Cmd = args
		} else {
			cfg.Entrypoint = args
		}
	case "ENV":
		k, v, ok := strings.Cut(arg, "=")
		if !ok {
			k, v, ok = strings.Cut(arg, " ")
		}
		if k == "" || !ok {
			return bad("use ENV NAME=VALUE")
		}
		cfg.Env = append(cfg.Env, strings.TrimSpace(k)+"="+strings.TrimSpace(v))
	case "WORKDIR":
		if !strings.HasPrefix(arg, "/") {
			return bad("WORKDIR needs an absolute path")
		}
		cfg.WorkingDir = arg
	case "USER":
		if arg == "" {
			return bad("USER needs a user")
		}
		cfg.User = arg
	case "LABEL":
		k, v, ok := strings.Cut(arg, "=")
		if k == "" || !ok {
			return bad("use LABEL KEY=VALUE")
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = strings.Trim(v, `"`)
	case "EXPOSE":
		if arg == "" {
			return bad("EXPOSE needs a port")
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(arg) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cfg.ExposedPorts[p] = struct{}{}
		}
	case "VOLUME":
		vols, err := execForm(arg)
		if err != nil || len(vols) == 0 {
			return bad("VOLUME needs a path")
		}
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			cfg.Volumes[v] = struct{}{}
		}
	case "STOPSIGNAL":
		if arg == "" {
			return bad("STOPSIGNAL needs a signal")
		}
		cfg.StopSignal = arg
	default:
		return bad("unknown instruction: use CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME or STOPSIGNAL")
	}
	return nil
}

// execForm reads a JSON array, or takes a plain string as the shell form.
func execForm(arg string) ([]string, error) {
	if strings.HasPrefix(arg, "[") {
		var out []string
		if err := json.Unmarshal([]byte(arg), &out); err != nil {
			return nil, fmt.Errorf("not a JSON array of strings")
		}
		return out, nil
	}
	if arg == "" {
		return nil, fmt.Errorf("needs a command")
	}
	return []string{"/bin/sh", "-c", arg}, nil
}
