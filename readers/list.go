// Package readers finds input data files and streams their columns as
// Arrow record batches. It knows file formats and Arrow, and nothing about
// the statistics done with the data.
package readers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/mixbatch/mixbatch/store"
)

// Format is an input file format.
type Format int

const (
	// Parquet is the Apache Parquet file format (.parquet, .parq).
	Parquet Format = iota + 1
	// IPC is the Arrow IPC file format (.arrow, .feather, .ipc). A file
	// without the "ARROW1" magic is read as the Arrow IPC stream format.
	IPC
)

// String returns the lowercase name of the format.
func (f Format) String() string {
	switch f {
	case Parquet:
		return "parquet"
	case IPC:
		return "ipc"
	default:
		return fmt.Sprintf("Format(%d)", int(f))
	}
}

// File is one input data file.
type File struct {
	Path   string // cleaned path, as listed
	Size   int64  // bytes, when listed
	Format Format // from the extension
}

// extFormats maps lowercase file extensions to formats.
var extFormats = map[string]Format{
	".parquet": Parquet,
	".parq":    Parquet,
	".arrow":   IPC,
	".feather": IPC,
	".ipc":     IPC,
}

// formatOf returns the format implied by the extension of path (of an
// object URL's key), compared case-insensitively, and whether the
// extension is a supported one.
func formatOf(path string) (Format, bool) {
	if store.IsURL(path) {
		// The extension is the key's, not the query's.
		if u, err := url.Parse(path); err == nil {
			path = u.Path
		}
	}
	f, ok := extFormats[strings.ToLower(filepath.Ext(path))]
	return f, ok
}

// hidden reports whether a base name is skipped inside directories, by the
// Spark/Hive convention (_SUCCESS, _metadata, .tmp, .part-0.crc).
func hidden(name string) bool {
	return strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".")
}

// List expands input paths into data files, sorted by path, without duplicates.
// Each entry is a file, a directory (walked recursively, hive folders such as part=3/ included),
// or a glob pattern (filepath.Glob syntax; may match files or directories).
// Inside directories only files ending .parquet, .parq, .arrow, .feather, .ipc are taken, and
// entries whose base name starts with "_" or "." are skipped (Spark/Hive convention: _SUCCESS,
// _truth.parquet, .tmp dirs). A file named explicitly must have one of those extensions.
// Errors (each names the path): path does not exist; glob matched nothing; a directory with no data files; explicit file with unsupported extension.
//
// An entry that exists is taken literally even if it contains glob
// metacharacters. The paths of glob matches are filtered like directory
// entries: hidden names and files with other extensions are skipped, and
// matched directories are walked; the pattern is an error only if it yields
// no data file at all. Extensions are compared case-insensitively. Symbolic
// links to files are followed; symbolic links to directories inside a walked
// directory are not. File.Path is the cleaned path (filepath.Clean).
//
// Entries may also be object-store URLs (s3://, gs://, azblob://, see package
// store) and file:// URLs (taken as local paths): see ListContext.
func List(paths []string) ([]File, error) {
	return ListContext(context.Background(), paths)
}

// ListContext is List with a context for listing object stores. An object
// URL follows the rules of local paths: a URL whose key names an object is
// that file (it must have a data file extension); otherwise the key is a
// prefix, listed recursively as a folder (every key below prefix/, names
// starting with "_" or "." skipped at every level, other extensions
// skipped); a key with the glob metacharacters * or [ (path.Match syntax
// on the key's "/"-separated segments; "?" begins the URL's query, write
// %3F for it) matches objects and "folders" at the pattern's depth, which
// are then taken like glob matches of local paths. File.Path is the
// object's URL, query included. Errors name the URL (redacted, see
// store.Redact).
func ListContext(ctx context.Context, paths []string) ([]File, error) {
	l, err := ListLinks(ctx, paths)
	return l.Files, err
}

// Listing is what ListLinks found: the data files, and the symbolic links
// to folders inside walked folders, which are not followed (so that no
// cycle can be), for the caller to warn about.
type Listing struct {
	Files        []File
	SkippedLinks []string // sorted, without duplicates
}

// ListLinks is ListContext that also reports the symbolic links to folders
// that it skipped inside the folders it walked (links whose names are
// hidden are skipped without a report, like every hidden name).
func ListLinks(ctx context.Context, paths []string) (Listing, error) {
	var links []string
	files, err := listContext(ctx, paths, &links)
	if err != nil {
		return Listing{}, err
	}
	sort.Strings(links)
	return Listing{Files: files, SkippedLinks: slices.Compact(links)}, nil
}

func listContext(ctx context.Context, paths []string, links *[]string) ([]File, error) {
	if len(paths) == 0 {
		return nil, errors.New("readers: no input paths")
	}
	seen := make(map[string]bool)
	var out []File
	add := func(f File) {
		if !seen[f.Path] {
			seen[f.Path] = true
			out = append(out, f)
		}
	}
	for _, p := range paths {
		if p == "" {
			return nil, errors.New("readers: empty input path")
		}
		p, err := store.Clean(p)
		if err != nil {
			return nil, err
		}
		if store.IsURL(p) {
			files, err := listURL(ctx, p)
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				add(f)
			}
			continue
		}
		fi, err := os.Stat(p)
		switch {
		case err == nil:
			files, err := expand(p, fi, true, links)
			if err != nil {
				return nil, err
			}
			if fi.IsDir() && len(files) == 0 {
				return nil, fmt.Errorf("%s: directory has no data files (%s)", p, extList())
			}
			for _, f := range files {
				add(f)
			}
		case errors.Is(err, fs.ErrNotExist) && hasMeta(p):
			// A pattern ending in a separator matches folders only, as in
			// a shell (filepath.Glob itself matches nothing then).
			pattern := strings.TrimRightFunc(p, func(r rune) bool { return r == '/' || r == filepath.Separator })
			dirsOnly := pattern != p
			matches, gerr := filepath.Glob(pattern)
			if gerr != nil {
				return nil, fmt.Errorf("%s: bad glob pattern: %w", p, gerr)
			}
			if len(matches) == 0 {
				return nil, fmt.Errorf("%s: glob matched nothing", p)
			}
			n := 0
			for _, m := range matches {
				if hidden(filepath.Base(m)) {
					continue
				}
				mfi, err := os.Stat(m)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", m, err)
				}
				if dirsOnly && !mfi.IsDir() {
					continue
				}
				files, err := expand(m, mfi, false, links)
				if err != nil {
					return nil, err
				}
				for _, f := range files {
					add(f)
					n++
				}
			}
			if n == 0 {
				return nil, fmt.Errorf("%s: glob matched no data files (%s)", p, extList())
			}
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: no such file or directory", p)
		default:
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// expand returns the data files at path p, whose Stat is fi. A directory is
// walked. A file is returned if its extension is supported; otherwise it is
// an error when explicit is set, and skipped when not. Symbolic links to
// folders met in the walk are not followed: they are appended to links.
func expand(p string, fi fs.FileInfo, explicit bool, links *[]string) ([]File, error) {
	p = filepath.Clean(p)
	if !fi.IsDir() {
		format, ok := formatOf(p)
		switch {
		case !fi.Mode().IsRegular():
			if explicit {
				return nil, fmt.Errorf("%s: not a regular file", p)
			}
			return nil, nil
		case !ok:
			if explicit {
				return nil, fmt.Errorf("%s: unsupported file extension %q (want %s)", p, filepath.Ext(p), extList())
			}
			return nil, nil
		}
		return []File{{Path: p, Size: fi.Size(), Format: format}}, nil
	}
	// WalkDir does not follow a symbolic link at its root: a linked
	// folder is walked through "p/.", its files named under p. (Links to
	// folders below the root are not followed, so a cycle cannot be.)
	root := p
	if lfi, err := os.Lstat(p); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
		root = p + string(filepath.Separator) + "."
	}
	var files []File
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if path == root {
			return nil
		}
		if hidden(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if info, err := os.Stat(path); err == nil && info.IsDir() {
				*links = append(*links, path)
				return nil
			}
		}
		format, ok := formatOf(path)
		if !ok {
			return nil
		}
		info, err := os.Stat(path) // follows a symbolic link to a file
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		files = append(files, File{Path: path, Size: info.Size(), Format: format})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// hasMeta reports whether path contains filepath.Match metacharacters.
func hasMeta(path string) bool {
	return strings.ContainsAny(path, `*?[\`)
}

// extList lists the supported extensions, for error messages.
func extList() string {
	return ".parquet, .parq, .arrow, .feather, .ipc"
}
