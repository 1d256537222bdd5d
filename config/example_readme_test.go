package config_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEShowsTheExample keeps the README's copy of the example config
// the same as the file the tests load.
func TestREADMEShowsTheExample(t *testing.T) {
	example, err := os.ReadFile("../examples/portico.yaml")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), strings.TrimRight(string(example), "\n")) {
		t.Error("README.md does not show examples/portico.yaml as it is; copy it into the <details> block again")
	}
}
