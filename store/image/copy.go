//go:build !den_core

package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
)

func (m *Manager) policy() (*signature.PolicyContext, error) {
	// Local archives are trusted as podman's default policy.json trusts them; registry
	// policies arrive with pulls.
	return signature.NewPolicyContext(&signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}})
}

// copyInto copies src into storage under name, or without a name when name is nil, and
// returns the stored image's ID.
func (m *Manager) copyInto(ctx context.Context, src types.ImageReference, name reference.Named) (string, error) {
	pc, err := m.policy()
	if err != nil {
		return "", err
	}
	defer pc.Destroy()
	return m.copyIntoWith(ctx, src, name, nil, pc)
}

// copyIntoWith is copyInto with a registry configuration and a signature policy.
func (m *Manager) copyIntoWith(ctx context.Context, src types.ImageReference, name reference.Named, sys *types.SystemContext, pc *signature.PolicyContext) (string, error) {
	var err error
	tmpName := name == nil
	if tmpName {
		// containers/image needs a name or an ID for the destination; the ID is only known once
		// the config is copied, so copy under a throwaway name and drop it afterwards.
		var b [8]byte
		_, _ = rand.Read(b[:])
		name, err = reference.ParseNormalizedNamed("localhost/den-unnamed-" + hex.EncodeToString(b[:]))
		if err != nil {
			return "", err
		}
		name = reference.TagNameOnly(name)
	}
	dest, err := istorage.Transport.NewStoreReference(m.Store.Store, name, "")
	if err != nil {
		return "", fmt.Errorf("naming the image in storage: %w", err)
	}
	report := m.Report
	if report == nil {
		report = io.Discard
	}
	guard, err := m.guardCopy()
	if err != nil {
		return "", err
	}
	_, err = copy.Image(ctx, pc, dest, src, &copy.Options{ReportWriter: report, SourceCtx: sys, DestinationCtx: sys})
	if cerr := guard.done(err != nil); err == nil {
		err = cerr
	}
	if err != nil {
		return "", copyError(err)
	}
	img, err := istorage.Transport.GetStoreImage(m.Store.Store, dest)
	if err != nil {
		return "", fmt.Errorf("finding the copied image: %w", err)
	}
	if tmpName {
		if err := m.Store.RemoveNames(img.ID, []string{name.String()}); err != nil {
			return "", fmt.Errorf("removing temporary name: %w", err)
		}
	}
	return img.ID, nil
}
