package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/docker/config"
	"go.podman.io/image/v5/types"
)

// ErrNotLoggedIn is returned by Logout when no credentials are stored for a registry.
var ErrNotLoggedIn = errors.New("not logged in")

// ErrBadCredentials is returned by Login when the registry refuses the credentials.
var ErrBadCredentials = errors.New("invalid username/password")

// Server is what login and logout take: a registry host, optionally followed by a
// repository namespace whose credentials are kept apart ("quay.io/team").
type Server struct {
	// Key is where the credentials are stored in auth.json.
	Key string
	// Host is the registry contacted.
	Host string
}

// ParseServer reads a login argument, accepting a leading https:// or http:// as podman does.
func ParseServer(s string) (Server, error) {
	key := strings.TrimRight(strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://"), "/")
	if key == "" {
		return Server{}, errors.New("no registry given: name one, e.g. `den login registry.example.com`")
	}
	host, _, _ := strings.Cut(key, "/")
	// A registry with a path must read as a reference; a plain host need not ("localhost").
	if _, err := reference.ParseNormalizedNamed(key + "/x"); err != nil || strings.ContainsAny(key, "@ ") {
		return Server{}, fmt.Errorf("%q is not a registry: use HOST[:PORT][/NAMESPACE]", s)
	}
	return Server{Key: key, Host: host}, nil
}

// Login checks username and password against the registry and stores them.
func Login(ctx context.Context, sys *types.SystemContext, srv Server, username, password string) error {
	if err := checkAuth(ctx, sys, srv, username, password); err != nil {
		return err
	}
	if _, err := config.SetCredentials(sys, srv.Key, username, password); err != nil {
		return fmt.Errorf("storing credentials for %s: %w", srv.Key, err)
	}
	return nil
}

// CheckStored reports whether credentials are stored for the registry (in den's auth file
// or docker's config.json) and the registry accepts them; it returns their user name.
func CheckStored(ctx context.Context, sys *types.SystemContext, srv Server) (string, bool, error) {
	auth, err := config.GetCredentials(sys, srv.Key)
	if err != nil {
		return "", false, fmt.Errorf("reading stored credentials for %s: %w", srv.Key, err)
	}
	if auth.Username == "" && auth.IdentityToken == "" {
		return "", false, nil
	}
	if err := checkAuth(ctx, sys, srv, auth.Username, auth.Password); err != nil {
		if errors.Is(err, ErrBadCredentials) {
			return auth.Username, false, nil
		}
		return "", false, err
	}
	return auth.Username, true, nil
}

func checkAuth(ctx context.Context, sys *types.SystemContext, srv Server, username, password string) error {
	err := docker.CheckAuth(ctx, sys, username, password, srv.Host)
	var unauth docker.ErrUnauthorizedForCredentials
	switch {
	case err == nil:
		return nil
	case errors.As(err, &unauth):
		return fmt.Errorf("logging in to %s: %w", srv.Host, ErrBadCredentials)
	default:
		return fmt.Errorf("logging in to %s: %w", srv.Host, err)
	}
}

// Logout removes the stored credentials of one registry.
func Logout(sys *types.SystemContext, srv Server) error {
	err := config.RemoveAuthentication(sys, srv.Key)
	if errors.Is(err, config.ErrNotLoggedIn) {
		return fmt.Errorf("logging out of %s: %w", srv.Key, ErrNotLoggedIn)
	}
	if err != nil {
		return fmt.Errorf("logging out of %s: %w", srv.Key, err)
	}
	return nil
}

// LogoutAll removes every stored credential of the auth file.
func LogoutAll(sys *types.SystemContext) error {
	if err := config.RemoveAllAuthentication(sys); err != nil {
		return fmt.Errorf("removing all credentials: %w", err)
	}
	return nil
}
