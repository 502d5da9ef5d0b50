package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type fmtRow struct {
	ID        string
	Name      string
	Size      int
	Extra     string
	CreatedAt string
	ImageID   string
	Tags      []string
}

type fmtJSON struct {
	Id   string `json:"Id"`
	Name string `json:"Name"`
}

var fmtCols = []column{{"CONTAINER ID", "ID"}, {"NAMES", "Name"}, {"SIZE", "Size"}}

var fmtRows = []fmtRow{
	{ID: "0123456789ab", Name: "web", Size: 1, Extra: "x", CreatedAt: "yesterday", ImageID: "img1", Tags: []string{"a", "b"}},
	{ID: "ba9876543210", Name: "a-longer-name", Size: 22, Extra: "y", CreatedAt: "today", ImageID: "img2"},
}

func TestPrintList(t *testing.T) {
	cases := []struct {
		name   string
		format string
		want   string
	}{
		{
			name:   "prints the default table with its header for an empty format",
			format: "",
			want: "CONTAINER ID  NAMES          SIZE\n" +
				"0123456789ab  web            1\n" +
				"ba9876543210  a-longer-name  22\n",
		},
		{
			name:   "prints the default table for a bare \"table\"",
			format: "table",
			want: "CONTAINER ID  NAMES          SIZE\n" +
				"0123456789ab  web            1\n" +
				"ba9876543210  a-longer-name  22\n",
		},
		{
			name:   "heads a table template's columns with the declared headers",
			format: "table {{.Name}}\t{{.ID}}",
			want: "NAMES          CONTAINER ID\n" +
				"web            0123456789ab\n" +
				"a-longer-name  ba9876543210\n",
		},
		{
			name:   "reads a typed backslash-t in a table template as a tab",
			format: `table {{.Name}}\t{{.Size}}`,
			want: "NAMES          SIZE\n" +
				"web            1\n" +
				"a-longer-name  22\n",
		},
		{
			name:   "heads a field without a declared header with its name in capitals",
			format: "table {{.Name}}\t{{.Extra}}",
			want: "NAMES          EXTRA\n" +
				"web            x\n" +
				"a-longer-name  y\n",
		},
		{
			name:   "heads a field used through a function with that field's header",
			format: "table {{.Name | upper}}\t{{upper .Extra}}",
			want: "NAMES          EXTRA\n" +
				"WEB            X\n" +
				"A-LONGER-NAME  Y\n",
		},
		{
			name:   "splits a camel-case field name into words for its header, as podman does",
			format: "table {{.CreatedAt}}\t{{.ImageID}}",
			want: "CREATED AT  IMAGE ID\n" +
				"yesterday   img1\n" +
				"today       img2\n",
		},
		{
			name:   "prints a plain template once per row without a header",
			format: "{{.Name}}:{{.Size}}",
			want:   "web:1\na-longer-name:22\n",
		},
		{
			name:   "reads a typed backslash-n in a plain template as a newline",
			format: `{{.Name}}\n{{.ID}}`,
			want:   "web\n0123456789ab\na-longer-name\nba9876543210\n",
		},
		{
			name:   "offers join, json and truncate in templates",
			format: `{{join .Tags ","}}|{{json .Name}}|{{truncate .ID 4}}`,
			want:   "a,b|\"web\"|0123\n|\"a-longer-name\"|ba98\n",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := printList(&buf, c.format, fmtCols, fmtRows, nil); err != nil {
				t.Fatalf("printList(%q): %v", c.format, err)
			}
			if buf.String() != c.want {
				t.Errorf("printList(%q) printed\n%s\nwant\n%s", c.format, buf.String(), c.want)
			}
		})
	}
}

func TestPrintListPrintsOnlyTheHeaderOfAnEmptyTable(t *testing.T) {
	var buf bytes.Buffer
	if err := printList[fmtRow](&buf, "", fmtCols, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimRight(buf.String(), " \n"); got != "CONTAINER ID  NAMES  SIZE" {
		t.Errorf("printed %q, want only the header", buf.String())
	}
}

func TestPrintListPrintsNothingForAnEmptyPlainTemplate(t *testing.T) {
	var buf bytes.Buffer
	if err := printList[fmtRow](&buf, "{{.ID}}", fmtCols, nil, nil); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("printed %q, want nothing", buf.String())
	}
}

func TestPrintListPrintsTheJSONRowsForJSON(t *testing.T) {
	js := []fmtJSON{{Id: "0123", Name: "web"}, {Id: "4567", Name: "db"}}
	var buf bytes.Buffer
	if err := printList(&buf, "json", fmtCols, fmtRows, js); err != nil {
		t.Fatal(err)
	}
	var got []fmtJSON
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, buf.String())
	}
	if len(got) != 2 || got[0] != js[0] || got[1] != js[1] {
		t.Errorf("decoded %+v, want %+v", got, js)
	}
	if !strings.HasPrefix(buf.String(), "[\n    {") {
		t.Errorf("output %q is not indented by four spaces as podman's", buf.String())
	}
}

func TestPrintListPrintsAnEmptyJSONArrayForNoRows(t *testing.T) {
	var buf bytes.Buffer
	if err := printList[fmtRow](&buf, "json", fmtCols, nil, []fmtJSON{}); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(buf.String()) != "[]" {
		t.Errorf("printed %q, want []", buf.String())
	}
}

func TestPrintListRejects(t *testing.T) {
	cases := []struct {
		name   string
		format string
	}{
		{"an unterminated action", "{{.Name"},
		{"an unknown function", "{{nosuch .Name}}"},
		{"an unknown field", "{{.Nope}}"},
		{"an unknown field in a table", "table {{.Nope}}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := printList(&buf, c.format, fmtCols, fmtRows, nil)
			if err == nil {
				t.Fatalf("printList(%q) succeeded, printing %q", c.format, buf.String())
			}
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 125 {
				t.Errorf("err = %#v, want exit code 125", err)
			}
			if !strings.Contains(err.Error(), "--format") {
				t.Errorf("error %q does not name --format", err)
			}
		})
	}
}

func TestHumanSize(t *testing.T) {
	cases := []struct {
		n    int64
		want string
	}{
		{-1, "-"},
		{0, "0 B"},
		{999, "999 B"},
		{1000, "1 kB"},
		{4_280_000, "4.28 MB"},
		{1_234_567, "1.23 MB"},
		{1_500_000_000, "1.5 GB"},
	}
	for _, c := range cases {
		if got := humanSize(c.n); got != c.want {
			t.Errorf("humanSize(%d) = %q, want podman's %q", c.n, got, c.want)
		}
	}
}

func TestTemplateTitleCapitalisesTheFirstLetter(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"hello world", "Hello world"},
		{"Hello", "Hello"},
		{"élan", "Élan"},
	}
	title := templateFuncs["title"].(func(string) string)
	for _, c := range cases {
		if got := title(c.in); got != c.want {
			t.Errorf("title(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// ps's rows take the direct path for the default table: it prints what the template of the
// same columns prints, byte for byte (header, padding, empty cells, long values).
func TestTheDefaultTableOfCelledRowsIsTheTemplatesTable(t *testing.T) {
	cols := []column{
		{"CONTAINER ID", "ID"}, {"IMAGE", "Image"}, {"COMMAND", "Command"}, {"CREATED", "CreatedHuman"},
		{"STATUS", "Status"}, {"PORTS", "Ports"}, {"NAMES", "Names"},
	}
	rows := []psRow{
		{ID: "0123456789ab", Image: "docker.io/library/busybox:latest", Command: "sleep 1000", CreatedHuman: "2 seconds ago",
			Status: "Up 2 seconds", Ports: "0.0.0.0:8080->80/tcp", Names: "web"},
		{ID: "ba9876543210", Image: "localhost/x:1", Command: "", CreatedHuman: "About an hour ago",
			Status: "Exited (137) 5 minutes ago", Names: "a_very_long_container_name_indeed"},
	}
	for _, n := range []int{0, 1, 2} {
		var direct, templated bytes.Buffer
		if err := printList(&direct, "", cols, rows[:n], nil); err != nil {
			t.Fatal(err)
		}
		if err := printList(&templated, defaultTable(cols), cols, rows[:n], nil); err != nil {
			t.Fatal(err)
		}
		if direct.String() != templated.String() {
			t.Fatalf("%d rows: direct table\n%q\ntemplate's\n%q", n, direct.String(), templated.String())
		}
	}
	if _, ok := (psRow{}).Cell("Labels"); ok {
		t.Fatal("psRow.Cell claims a field the default table does not show")
	}
}
