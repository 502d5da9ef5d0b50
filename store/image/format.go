package image

import "fmt"

// SaveFormat is one of podman's formats for `save`.
type SaveFormat string

// The formats of `save`; docker-archive is podman's default.
const (
	FormatDockerArchive SaveFormat = "docker-archive"
	FormatOCIArchive    SaveFormat = "oci-archive"
	FormatOCIDir        SaveFormat = "oci-dir"
	FormatDockerDir     SaveFormat = "docker-dir"
)

// ParseSaveFormat reads --format of save; empty means docker-archive.
func ParseSaveFormat(s string) (SaveFormat, error) {
	switch f := SaveFormat(s); f {
	case "":
		return FormatDockerArchive, nil
	case FormatDockerArchive, FormatOCIArchive, FormatOCIDir, FormatDockerDir:
		return f, nil
	}
	return "", fmt.Errorf("unknown save format %q: use docker-archive, oci-archive, oci-dir or docker-dir", s)
}

// IsDir reports whether the format writes a directory rather than one file.
func (f SaveFormat) IsDir() bool { return f == FormatOCIDir || f == FormatDockerDir }
