package cmd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	units "github.com/docker/go-units"
	"github.com/urfave/cli/v2"
)

// column is one column of a listing: its header and the template field it shows.
type column struct {
	Header, Field string
}

// defaultTable builds "table {{.A}}\t{{.B}}" from columns.
func defaultTable(cols []column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = "{{." + c.Field + "}}"
	}
	return "table " + strings.Join(parts, "\t")
}

var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"title": func(s string) string {
		r, n := utf8.DecodeRuneInString(s)
		if n == 0 {
			return s
		}
		return string(unicode.ToUpper(r)) + s[n:]
	},
	"join":     strings.Join,
	"truncate": func(s string, n int) string { return s[:min(n, len(s))] },
}

// printList writes rows (a slice of structs) as podman does for --format: "json" for a JSON
// array of jsonRows, "table ..." for a table with headers, or a Go template per row. An empty
// format uses the default table; quiet prints only the quietField.
func printList[T any](w io.Writer, format string, cols []column, rows []T, jsonRows any) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "    ")
		return enc.Encode(jsonRows)
	}
	if format == "" {
		if done, err := printDefaultTable(w, cols, rows); done {
			return err
		}
		format = defaultTable(cols)
	}
	table := strings.HasPrefix(format, "table")
	if table {
		format = strings.TrimSpace(strings.TrimPrefix(format, "table"))
		if format == "" {
			format = strings.TrimPrefix(defaultTable(cols), "table ")
		}
	}
	format = strings.ReplaceAll(format, `\t`, "\t")
	format = strings.ReplaceAll(format, `\n`, "\n")
	tmpl, err := template.New("format").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return withCode(125, fmt.Errorf("--format %q: %w", format, err))
	}
	// One write for the whole listing rather than one per line.
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	w = bw
	out := w
	var tw *tabwriter.Writer
	if table {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		out = tw
		if err := writeHeader(out, format, cols); err != nil {
			return err
		}
	}
	for _, r := range rows {
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, r); err != nil {
			return withCode(125, fmt.Errorf("--format: %w", err))
		}
		buf.WriteByte('\n')
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// celled is a row that gives the text of its fields directly: the default table is then
// written without executing a template per row (a thousand ps rows spent about 4 ms there).
// Cell returns what {{.FIELD}} would print.
type celled interface {
	Cell(field string) (string, bool)
}

// printDefaultTable writes rows in the default table of cols when the rows are celled (and
// give every column); it reports false, having written nothing, when they are not.
func printDefaultTable[T any](w io.Writer, cols []column, rows []T) (bool, error) {
	var zero T
	c, ok := any(zero).(celled)
	for _, col := range cols {
		if ok {
			_, ok = c.Cell(col.Field)
		}
	}
	if !ok {
		return false, nil
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	var line []byte
	write := func(cell func(col column) string) error {
		line = line[:0]
		for i, col := range cols {
			if i > 0 {
				line = append(line, '\t')
			}
			line = append(line, cell(col)...)
		}
		_, err := tw.Write(append(line, '\n'))
		return err
	}
	if err := write(func(col column) string { return col.Header }); err != nil {
		return true, err
	}
	for _, r := range rows {
		c := any(r).(celled)
		if err := write(func(col column) string { s, _ := c.Cell(col.Field); return s }); err != nil {
			return true, err
		}
	}
	if err := tw.Flush(); err != nil {
		return true, err
	}
	return true, bw.Flush()
}

// fieldRef finds the field each template action shows, for the header row.
var fieldRef = regexp.MustCompile(`\{\{[^}]*?\.(\w+)[^}]*\}\}`)

// writeHeader turns the format into its header row: {{.ID}} shows "CONTAINER ID", and a
// field with no declared header shows its name in capitals.
func writeHeader(w io.Writer, format string, cols []column) error {
	hdr := map[string]string{}
	for _, c := range cols {
		hdr[c.Field] = c.Header
	}
	line := fieldRef.ReplaceAllStringFunc(format, func(m string) string {
		f := fieldRef.FindStringSubmatch(m)[1]
		if h, ok := hdr[f]; ok {
			return h
		}
		return headerOf(f)
	})
	_, err := io.WriteString(w, line+"\n")
	return err
}

// headerOf turns a field name into podman's header for it: "CreatedAt" is "CREATED AT",
// "ImageID" is "IMAGE ID".
func headerOf(field string) string {
	var b strings.Builder
	r := []rune(field)
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) &&
			(unicode.IsLower(r[i-1]) || (i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1]))) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToUpper(c))
	}
	return b.String()
}

// humanAgo is podman's "2 minutes ago".
func humanAgo(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}

// humanSize is podman's size rendering: "4.28 MB".
func humanSize(n int64) string {
	if n < 0 {
		return "-"
	}
	s := units.HumanSizeWithPrecision(float64(n), 3)
	// go-units writes "4.28MB"; podman shows "4.28 MB".
	if i := strings.IndexFunc(s, unicode.IsLetter); i > 0 {
		return s[:i] + " " + s[i:]
	}
	return s
}

// humanDuration is podman's "5 seconds", "About a minute".
func humanDuration(d time.Duration) string { return units.HumanDuration(d) }

// noHeadingFlag is --noheading of the listings.
func noHeadingFlag(aliases ...string) cli.Flag {
	return &cli.BoolFlag{Name: "noheading", Aliases: aliases, Usage: "leave out the table's header line"}
}

// listWriter is where a listing in format goes: with --noheading, a writer that drops a
// table's first line, its header. A plain template or JSON has no header.
func listWriter(c *cli.Context, format string) io.Writer {
	if !c.Bool("noheading") || !(format == "" || strings.HasPrefix(format, "table")) {
		return c.App.Writer
	}
	return &headless{w: c.App.Writer}
}

// headless passes on what is written to it after the first newline.
type headless struct {
	w    io.Writer
	past bool
}

func (h *headless) Write(p []byte) (int, error) {
	if !h.past {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return len(p), nil
		}
		h.past = true
		if _, err := h.w.Write(p[i+1:]); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return h.w.Write(p)
}
