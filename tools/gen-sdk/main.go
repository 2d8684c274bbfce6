// gen-sdk writes the TypeScript, Python and Go SDKs of a Pulumi package from its schema, with the code
// generators of github.com/pulumi/pulumi/pkg/v3 (the ones `pulumi package gen-sdk` reaches through a
// language host's GeneratePackage, which the pinned v3.68 hosts do not implement).
//
//	gen-sdk -schema provider/pulumi_copyai/plugin/schema.json -out sdk [-lang nodejs,python,go]
//
// Each language's directory under -out is replaced whole by the generated files, so the output depends
// on the schema and this tool only: running it twice gives byte-identical trees.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/blang/semver"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

// goDirective is the go directive of github.com/pulumi/pulumi/sdk/v3@v3.274.1's go.mod: a module
// requiring that SDK needs at least this Go.
const goDirective = "1.26.6"

// tool is the generator's name as the generated files' "do not edit" headers print it.
const tool = "pulumi-copyai-gen-sdk"

// noLoader answers every request for another package with an error: the copyai schema refers to none.
type noLoader struct{}

func (noLoader) err(name string) error {
	return fmt.Errorf("the schema refers to package %q; gen-sdk loads no other packages", name)
}

func (l noLoader) LoadPackage(name string, _ *semver.Version) (*schema.Package, error) {
	return nil, l.err(name)
}

func (l noLoader) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, l.err(d.Name)
}

func (l noLoader) LoadPackageReference(name string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, l.err(name)
}

func (l noLoader) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return nil, l.err(d.Name)
}

// bind reads and validates the schema. Each language gets its own bound package: the generators
// record their language info in it.
func bind(path string) (*schema.Package, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pkg, diags, err := schema.BindSpec(spec, noLoader{}, schema.ValidationOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, d := range diags {
		fmt.Fprintf(os.Stderr, "%s: %s\n", path, d.Error())
	}
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s: the schema does not bind", path)
	}
	return pkg, nil
}

func generate(lang string, pkg *schema.Package) (map[string][]byte, error) {
	switch lang {
	case "nodejs":
		return nodejs.GeneratePackage(tool, pkg, nil, nil, false, noLoader{})
	case "python":
		return python.GeneratePackage(tool, pkg, nil, noLoader{})
	case "go":
		files, err := gogen.GeneratePackage(tool, pkg, nil)
		if err != nil {
			return nil, err
		}
		mod, err := goMod(pkg)
		if err != nil {
			return nil, err
		}
		files["go.mod"] = mod
		// The Go language host learns a program's plugins from its modules' pulumi-plugin.json, looked
		// for only at a module's root, in go/ and in go/*/ (pulumi-language-go's readPulumiPluginJSON).
		// This module's root is the directory above the package, so the package's file would go
		// unseen: the engine would then neither download the plugin before the program runs nor give
		// a component's children the default provider of the program's own resources (two provider
		// processes). A copy at the module's root is found.
		info, _ := pkg.Language["go"].(gogen.GoPackageInfo)
		base := info.ImportBasePath
		if base == "" {
			base = gogen.ExtractImportBasePath(pkg.Reference())
		}
		pluginJSON, ok := files[path.Base(base)+"/pulumi-plugin.json"]
		if !ok {
			return nil, fmt.Errorf("the Go generator wrote no %s/pulumi-plugin.json", path.Base(base))
		}
		files["pulumi-plugin.json"] = pluginJSON
		return files, nil
	}
	return nil, fmt.Errorf("unknown language %q (nodejs, python, go)", lang)
}

// goMod is the go.mod of the Go SDK, which sits one directory above the package (importBasePath
// example.com/x/sdk/go/copyai: module example.com/x/sdk/go, like `pulumi package gen-sdk` with
// supportPack). It requires the Pulumi Go SDK this tool is built with, not the codegen's older default.
func goMod(pkg *schema.Package) ([]byte, error) {
	info, _ := pkg.Language["go"].(gogen.GoPackageInfo)
	base := info.ImportBasePath
	if base == "" {
		base = gogen.ExtractImportBasePath(pkg.Reference())
	}
	build, ok := debug.ReadBuildInfo()
	if !ok {
		return nil, errors.New("no build info: cannot tell which Pulumi Go SDK to require")
	}
	versions := map[string]string{}
	for _, dep := range build.Deps {
		versions[dep.Path] = dep.Version
	}
	var requires []string
	for _, mod := range []string{"github.com/blang/semver", "github.com/pulumi/pulumi/sdk/v3"} {
		if versions[mod] == "" {
			return nil, fmt.Errorf("%s is not in this tool's build info", mod)
		}
		requires = append(requires, fmt.Sprintf("\t%s %s\n", mod, versions[mod]))
	}
	text := fmt.Sprintf("module %s\n\ngo %s\n\nrequire (\n%s)\n", path.Dir(base), goDirective, strings.Join(requires, ""))
	return []byte(text), nil
}

// write replaces dir with exactly files.
func write(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		target := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func run() error {
	schemaPath := flag.String("schema", "provider/pulumi_copyai/plugin/schema.json", "the package schema")
	out := flag.String("out", "sdk", "the SDKs' root: each language goes to <out>/<language>")
	langs := flag.String("lang", "nodejs,python,go", "comma-separated languages")
	flag.Parse()
	if flag.NArg() != 0 {
		return errors.New("unexpected arguments: " + strings.Join(flag.Args(), " "))
	}
	for _, lang := range strings.Split(*langs, ",") {
		pkg, err := bind(*schemaPath)
		if err != nil {
			return err
		}
		files, err := generate(lang, pkg)
		if err != nil {
			return fmt.Errorf("%s SDK: %w", lang, err)
		}
		dir := filepath.Join(*out, lang)
		if err := write(dir, files); err != nil {
			return fmt.Errorf("%s SDK: %w", lang, err)
		}
		fmt.Fprintf(os.Stderr, "gen-sdk: %s SDK of %s %s: %d files in %s\n", lang, pkg.Name, pkg.Version, len(files), dir)
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen-sdk:", err)
		os.Exit(1)
	}
}
