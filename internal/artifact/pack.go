package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultRoot is where build outputs live inside the image, as ko puts them
// under /ko-app.
const DefaultRoot = "/app"

// File is one build output to put into the image.
type File struct {
	Name   string // slash-separated path below the image root, e.g. "bin/hello"
	Source string // the file on disk
}

// RunConfig says how the image runs; it becomes the OCI image config.
type RunConfig struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`   // KEY=VALUE
	Ports      []string `json:"ports,omitempty"` // "8080" or "8080/tcp"
	WorkingDir string   `json:"working_dir,omitempty"`
}

// PackOptions are the inputs of Pack besides the files.
type PackOptions struct {
	Meta Metadata
	Run  RunConfig
	Root string // default DefaultRoot
	OS   string // default linux
	Arch string // default the running architecture
	// Base, when set, is the image whose layers go under the artifact's:
	// its platform and config are kept, with the run config layered on.
	Base *Base
}

// Pack makes a runnable OCI image of files: one layer holding them under the
// root directory, an image config from opts.Run and the metadata as
// annotations. The layer tar is deterministic (sorted entries, the commit
// time as every mtime, uid/gid 0) and so is its gzip, so equal inputs give
// equal digests.
func Pack(files []File, opts PackOptions) (v1.Image, error) {
	if opts.Root == "" {
		opts.Root = DefaultRoot
	}
	if opts.OS == "" {
		opts.OS = "linux"
	}
	if opts.Arch == "" {
		opts.Arch = runtime.GOARCH
	}
	layer, err := packLayer(files, strings.Trim(opts.Root, "/"), opts.Meta.Created)
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	var baseCF *v1.ConfigFile
	if opts.Base != nil {
		if img, baseCF, err = onBase(img, opts.Base); err != nil {
			return nil, err
		}
		opts.OS, opts.Arch = baseCF.OS, baseCF.Architecture
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: opts.Meta.Created}, CreatedBy: "belay build " + opts.Meta.Service, Comment: opts.Meta.Version},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = opts.OS, opts.Arch
	cf.Created = v1.Time{Time: opts.Meta.Created}
	cf.Config = imageConfig(opts)
	ann := opts.Meta.Annotations()
	if baseCF != nil {
		cf.Variant, cf.OSVersion, cf.OSFeatures = baseCF.Variant, baseCF.OSVersion, baseCF.OSFeatures
		cf.Config = mergeConfig(baseCF.Config, cf.Config, opts.Root)
		ann[AnnotationBaseDigest] = opts.Base.Digest.String()
		ann[AnnotationBaseName] = opts.Base.Ref
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, ann).(v1.Image), nil
}

// onBase appends the base's layers (as OCI layers: the blobs are the same
// bytes, only their descriptors' media type is OCI's) with their history.
func onBase(img v1.Image, b *Base) (v1.Image, *v1.ConfigFile, error) {
	cf, err := b.Image.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("%w %s: config: %v", ErrBase, b.Ref, err)
	}
	layers, err := b.Image.Layers()
	if err != nil {
		return nil, nil, fmt.Errorf("%w %s: layers: %v", ErrBase, b.Ref, err)
	}
	var hist []v1.History
	for _, h := range cf.History {
		if !h.EmptyLayer {
			hist = append(hist, h)
		}
	}
	for i, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, nil, err
		}
		if mt != types.OCILayer && mt != types.DockerLayer {
			return nil, nil, fmt.Errorf("%w %s: layer %d is %s; only gzipped tar layers (%s) can be built on", ErrBase, b.Ref, i+1, mt, types.OCILayer)
		}
		add := mutate.Addendum{Layer: l, MediaType: types.OCILayer}
		if len(hist) == len(layers) {
			add.History = hist[i]
		}
		if img, err = mutate.Append(img, add); err != nil {
			return nil, nil, fmt.Errorf("%w %s: %v", ErrBase, b.Ref, err)
		}
	}
	return img, cf, nil
}

func imageConfig(opts PackOptions) v1.Config {
	c := v1.Config{
		Entrypoint: opts.Run.Entrypoint,
		Cmd:        opts.Run.Cmd,
		Env:        slices.Clone(opts.Run.Env),
		WorkingDir: opts.Run.WorkingDir,
		Labels:     map[string]string{AnnotationVersion: opts.Meta.Version, AnnotationRevision: opts.Meta.Commit},
	}
	if c.WorkingDir == "" {
		c.WorkingDir = opts.Root
	}
	// Relative entrypoints name outputs under the root, as ko's do.
	if len(c.Entrypoint) > 0 && !path.IsAbs(c.Entrypoint[0]) {
		c.Entrypoint = append([]string{path.Join(opts.Root, c.Entrypoint[0])}, c.Entrypoint[1:]...)
	}
	if !slices.ContainsFunc(c.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		c.Env = append(c.Env, "PATH="+defaultPath(opts.Root))
	}
	if len(opts.Run.Ports) > 0 {
		c.ExposedPorts = map[string]struct{}{}
		for _, p := range opts.Run.Ports {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			c.ExposedPorts[p] = struct{}{}
		}
	}
	return c
}

// defaultPath is an image's PATH unless run.env sets one: the artifact's
// root first.
func defaultPath(root string) string { return root + ":/usr/local/bin:/usr/bin:/bin" }

// packLayer writes the deterministic, gzipped layer tar.
func packLayer(files []File, root string, mtime time.Time) (*packedLayer, error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	var gz bytes.Buffer
	// One allocation of about the final size instead of repeated doubling
	// (incompressible outputs come out slightly larger than they go in).
	var total int64
	for _, f := range files {
		if st, err := os.Stat(f.Source); err == nil {
			total += st.Size()
		}
	}
	gz.Grow(int(total + total/100 + 64<<10))
	// Compression runs beside tar writing and hashing: two cores, one pass.
	pr, pw := io.Pipe()
	compressed, uncompressed := sha256.New(), sha256.New()
	done := make(chan error, 1)
	go func() {
		err := compress(pr, io.MultiWriter(&gz, compressed))
		pr.CloseWithError(err) // unblock the writer if compression failed
		done <- err
	}()
	err := writeTar(io.MultiWriter(pw, uncompressed), files, root, mtime)
	pw.CloseWithError(err)
	if cerr := <-done; err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return &packedLayer{gz: gz.Bytes(), digest: hashOf(compressed), diffID: hashOf(uncompressed)}, nil
}

func compress(r io.Reader, w io.Writer) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	if _, err := io.Copy(zw, r); err != nil {
		return err
	}
	return zw.Close()
}

// writeTar writes the sorted files under root, with their parent
// directories, as a tar stream.
func writeTar(w io.Writer, files []File, root string, mtime time.Time) error {
	tw := tar.NewWriter(w)
	dirs := map[string]bool{}
	for i, f := range files {
		name := path.Clean(strings.TrimLeft(f.Name, "/"))
		if name == "." || strings.HasPrefix(name, "../") || name == ".." {
			return fmt.Errorf("output %q: not a path below the image root", f.Name)
		}
		if i > 0 && files[i-1].Name == f.Name {
			return fmt.Errorf("output %q declared twice", f.Name)
		}
		full := path.Join(root, name)
		if err := addDirs(tw, dirs, path.Dir(full), mtime); err != nil {
			return err
		}
		if err := addFile(tw, full, f.Source, mtime); err != nil {
			return err
		}
	}
	return tw.Close()
}

func addDirs(tw *tar.Writer, done map[string]bool, dir string, mtime time.Time) error {
	if dir == "." || dir == "/" || done[dir] {
		return nil
	}
	if err := addDirs(tw, done, path.Dir(dir), mtime); err != nil {
		return err
	}
	done[dir] = true
	return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX})
}

func addFile(tw *tar.Writer, name, source string, mtime time.Time) error {
	fh, err := os.Open(source)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMissingOutput, err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("output %s: only regular files and directories can be packed, not %v", source, st.Mode().Type())
	}
	mode := int64(0o644)
	if st.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: st.Size(), Mode: mode, ModTime: mtime, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.Copy(tw, fh); err != nil {
		return fmt.Errorf("pack %s: %w", source, err)
	}
	return nil
}

func hashOf(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}
}

// packedLayer is a layer already compressed in memory with known digests, so
// that nothing is hashed or compressed twice.
type packedLayer struct {
	gz             []byte
	digest, diffID v1.Hash
}

var _ v1.Layer = (*packedLayer)(nil)

func (l *packedLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *packedLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *packedLayer) Size() (int64, error)     { return int64(len(l.gz)), nil }
func (l *packedLayer) MediaType() (types.MediaType, error) {
	return types.OCILayer, nil
}
func (l *packedLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}
func (l *packedLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.gz))
}

// CollectOutputs expands declared outputs (files or directories, relative to
// dir) into files named by their path relative to dir. A missing output is
// an ErrMissingOutput naming it.
func CollectOutputs(dir string, outputs []string) ([]File, error) {
	var files []File
	for _, o := range outputs {
		clean := path.Clean(strings.TrimPrefix(o, "./"))
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return nil, fmt.Errorf("output %q: must be a path inside the service directory", o)
		}
		root := path.Join(dir, clean)
		st, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("%w: %q was not produced by the build (looked for %s): check the build command and outputs in belay.yaml", ErrMissingOutput, o, root)
		}
		if !st.IsDir() {
			files = append(files, File{Name: clean, Source: root})
			continue
		}
		err = fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			files = append(files, File{Name: path.Join(clean, p), Source: path.Join(root, p)})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("collect output %q: %w", o, err)
		}
	}
	return files, nil
}
