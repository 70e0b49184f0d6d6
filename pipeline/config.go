package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/mixbatch/mixbatch/em"
	"github.com/mixbatch/mixbatch/store"
	"github.com/mixbatch/mixbatch/writers"
)

// Families that model.family accepts.
const (
	Bernoulli   = "bernoulli"
	Categorical = "categorical"
	Gaussian    = "gaussian"
	Poisson     = "poisson"
	// MultivariateGaussian components have a mean vector and a covariance
	// matrix over the input.value columns (em.MultiGaussian).
	MultivariateGaussian = "multivariate_gaussian"
)

// familyList names the families for messages.
const familyList = "bernoulli, categorical, gaussian, multivariate_gaussian or poisson"

// Config is a run configuration, as read from a YAML file.
type Config struct {
	Input  InputConfig  `yaml:"input" json:"input,omitempty"`
	Model  ModelConfig  `yaml:"model" json:"model,omitempty"`
	EM     EMConfig     `yaml:"em" json:"em,omitempty"`
	Output OutputConfig `yaml:"output" json:"output,omitempty"`
	Run    RunConfig    `yaml:"run" json:"run,omitempty"`

	// Path is the file the config was loaded from ("" if parsed from bytes).
	// Relative paths inside the config are taken as they are, relative to
	// the working directory of the process, like any command-line tool's.
	Path string `yaml:"-" json:"-"`
	// Digest is the SHA-256 of the config file's bytes, hex-encoded.
	Digest string `yaml:"-" json:"-"`
}

// InputConfig says where the observations are and which columns to use.
type InputConfig struct {
	// Paths are files, directories (walked recursively) or globs.
	Paths []string `yaml:"paths" json:"paths,omitempty"`
	// Bag names the bag column: any integer type or string.
	Bag string `yaml:"bag" json:"bag,omitempty"`
	// Value names the observation column; multivariate_gaussian takes a
	// list of columns, one per coordinate (value: [x1, x2]).
	Value Columns `yaml:"value" json:"value,omitempty"`
	// Count optionally names a column of non-negative counts (weights) per row.
	Count string `yaml:"count" json:"count,omitempty"`
	// Keep lists columns copied into the posteriors table.
	Keep []string `yaml:"keep" json:"keep,omitempty"`
	// Nulls says what a null value or count does: "error" (the default)
	// stops the run naming the row; "drop" leaves the row out of the fit
	// and counts it in the bag's n_dropped. A null bag key is always an
	// error.
	Nulls string `yaml:"nulls" json:"nulls,omitempty"`
}

// Columns is a list of column names. YAML and JSON write it as a single
// name when it holds one (value: x) and as a list otherwise (value: [x1,
// x2]), and read both.
type Columns []string

// String joins the names with ", ", for messages.
func (c Columns) String() string { return strings.Join(c, ", ") }

// UnmarshalYAML reads a column name or a list of names. Every entry must
// be a scalar.
func (c *Columns) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var name string
		if err := n.Decode(&name); err != nil {
			return err
		}
		*c = Columns{name}
		return nil
	case yaml.SequenceNode:
		names := make(Columns, len(n.Content))
		for i, e := range n.Content {
			if e.Kind == yaml.AliasNode && e.Alias != nil {
				e = e.Alias
			}
			if e.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: input.value[%d] must be a column name", e.Line, i)
			}
			if err := e.Decode(&names[i]); err != nil {
				return err
			}
		}
		*c = names
		return nil
	}
	return fmt.Errorf("line %d: input.value must be a column name or a list of column names", n.Line)
}

// MarshalYAML writes one name as a scalar and several as a list.
func (c Columns) MarshalYAML() (any, error) {
	switch len(c) {
	case 0:
		return nil, nil
	case 1:
		return c[0], nil
	}
	return []string(c), nil
}

// MarshalJSON writes one name as a string and several as a list, as in
// YAML.
func (c Columns) MarshalJSON() ([]byte, error) {
	if len(c) == 1 {
		return json.Marshal(c[0])
	}
	return json.Marshal([]string(c))
}

// UnmarshalJSON reads a name or a list of names, as MarshalJSON writes
// them, so that a manifest's config reads back.
func (c *Columns) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err == nil {
		*c = Columns{name}
		return nil
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return fmt.Errorf("input.value must be a column name or a list of column names: %w", err)
	}
	*c = names
	return nil
}

// ModelConfig describes the mixture.
type ModelConfig struct {
	// Family is one of bernoulli, categorical, gaussian,
	// multivariate_gaussian, poisson.
	Family string `yaml:"family" json:"family,omitempty"`
	// Components are the K >= 1 named components with their parameters.
	// A learned parameter may be left out (the initialiser then picks its
	// start); a fixed one must be given.
	Components []ComponentConfig `yaml:"components" json:"components,omitempty"`
	// Learn lists what EM estimates: weights and any of the family's
	// parameters (p; probs; mean, sd; rate; mean, cov). Default [weights].
	Learn []string `yaml:"learn" json:"learn,omitempty"`
	// Scope is "bag" (every bag its own components) or "shared" (one set of
	// component parameters for the whole table, weights per bag).
	Scope string `yaml:"scope" json:"scope,omitempty"`
	// RegCovar is the floor of every learned gaussian variance, and is
	// added to the diagonal of every learned multivariate covariance
	// (scikit-learn's reg_covar; see em.Model.RegCovar). Default 1e-6.
	RegCovar float64 `yaml:"reg_covar" json:"reg_covar,omitempty"`
	// Covariance is the structure of multivariate_gaussian covariance
	// matrices: full, diag or spherical. Validate sets it to full for
	// that family when it is left out; the other families take none.
	Covariance string `yaml:"covariance,omitempty" json:"covariance,omitempty"`
	// ComponentsRange [lo, hi] fits every K in lo..hi (components named
	// c1..cK, all parameters learned) and keeps the best by Select. It
	// replaces Components.
	ComponentsRange []int `yaml:"components_range,omitempty" json:"components_range,omitempty"`
	// Select is the criterion for ComponentsRange: "bic" or "aic".
	Select string `yaml:"select" json:"select,omitempty"`
	// Labels are the categorical labels when probs are learned; by default
	// the labels the components' probs name.
	Labels []string `yaml:"labels,omitempty" json:"labels,omitempty"`
}

// Model scopes and selection criteria.
const (
	ScopeBag    = "bag"
	ScopeShared = "shared"
	SelectBIC   = "bic"
	SelectAIC   = "aic"
)

// familyParams lists each family's parameters, in the order the output
// tables give them.
var familyParams = map[string][]string{
	Bernoulli: {"p"}, Categorical: {"probs"}, Gaussian: {"mean", "sd"}, Poisson: {"rate"},
	MultivariateGaussian: {"mean", "cov"},
}

// mvnNoParams says what multivariate_gaussian components accept in this
// release.
const mvnNoParams = "multivariate_gaussian components take no parameters in this release: list mean and cov in model.learn"

// Learns reports whether q ("weights" or a parameter name) is learned.
func (m *ModelConfig) Learns(q string) bool { return slices.Contains(m.Learn, q) }

// LearnsParams reports whether any component parameter is learned.
func (m *ModelConfig) LearnsParams() bool {
	for _, q := range familyParams[m.Family] {
		if m.Learns(q) {
			return true
		}
	}
	return false
}

// ComponentConfig is one named component. Which parameters apply depends on
// the family; giving a parameter of another family is an error.
type ComponentConfig struct {
	Name  string             `yaml:"name" json:"name,omitempty"`
	P     *float64           `yaml:"p,omitempty" json:"p,omitempty"`         // bernoulli: P(value = 1)
	Probs map[string]float64 `yaml:"probs,omitempty" json:"probs,omitempty"` // categorical: label -> probability
	Mean  *float64           `yaml:"mean,omitempty" json:"mean,omitempty"`   // gaussian
	SD    *float64           `yaml:"sd,omitempty" json:"sd,omitempty"`       // gaussian
	Rate  *float64           `yaml:"rate,omitempty" json:"rate,omitempty"`   // poisson
}

// EMConfig tunes the fit.
type EMConfig struct {
	// Init is "uniform" or a list of K starting weights.
	Init Init `yaml:"init" json:"init,omitempty"`
	// MaxIter caps the E-steps per bag.
	MaxIter int `yaml:"max_iter" json:"max_iter,omitempty"`
	// Tol is the stopping tolerance (see package em).
	Tol float64 `yaml:"tol" json:"tol,omitempty"`
	// Accelerate is "squarem" or "none" (the textbook loop).
	Accelerate string `yaml:"accelerate" json:"accelerate,omitempty"`
	// Restarts is the number of k-means++ starts per bag when component
	// parameters are learned; 0 means 10.
	Restarts int `yaml:"restarts" json:"restarts,omitempty"`
	// Seed seeds the random starts; each bag's stream derives from (seed,
	// bag key), so a bag's result depends on nothing else.
	Seed uint64 `yaml:"seed" json:"seed,omitempty"`
}

// Init is em.init: nil Weights means uniform.
type Init struct {
	Weights []float64
}

// UnmarshalYAML accepts the word uniform or a list of numbers.
func (in *Init) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value != "uniform" {
			return fmt.Errorf("line %d: em.init must be uniform or a list of weights, got %q", n.Line, n.Value)
		}
		in.Weights = nil
		return nil
	case yaml.SequenceNode:
		w := make([]float64, len(n.Content))
		for i, c := range n.Content {
			if c.Kind == yaml.AliasNode && c.Alias != nil {
				c = c.Alias
			}
			v, err := strconv.ParseFloat(c.Value, 64)
			if c.Kind != yaml.ScalarNode || err != nil {
				return fmt.Errorf("line %d: em.init[%d] must be a number, got %q", c.Line, i, c.Value)
			}
			w[i] = v
		}
		in.Weights = w
		return nil
	}
	return fmt.Errorf("line %d: em.init must be uniform or a list of weights", n.Line)
}

// MarshalYAML writes uniform or the list.
func (in Init) MarshalYAML() (any, error) {
	if in.Weights == nil {
		return "uniform", nil
	}
	return in.Weights, nil
}

// MarshalJSON writes "uniform" or the list, as in YAML.
func (in Init) MarshalJSON() ([]byte, error) {
	v, _ := in.MarshalYAML()
	return json.Marshal(v)
}

// UnmarshalJSON reads "uniform" or a list, as MarshalJSON writes them, so
// that a manifest's config reads back.
func (in *Init) UnmarshalJSON(b []byte) error {
	var word string
	if err := json.Unmarshal(b, &word); err == nil {
		if word != "uniform" {
			return fmt.Errorf("em.init must be uniform or a list of weights, got %q", word)
		}
		in.Weights = nil
		return nil
	}
	return json.Unmarshal(b, &in.Weights)
}

// OutputConfig says where results go.
type OutputConfig struct {
	// Dir is the output folder; it appears atomically at the end of a run.
	Dir string `yaml:"dir" json:"dir,omitempty"`
	// Posteriors enables the per-row posteriors table.
	Posteriors bool `yaml:"posteriors" json:"posteriors,omitempty"`
	// Overwrite allows replacing an existing Dir.
	Overwrite bool `yaml:"overwrite" json:"overwrite,omitempty"`
	// Compression is the codec of every output table: snappy (the default,
	// as Spark's, DuckDB's and pyarrow's), zstd (at its fastest level:
	// smaller files, slower writes) or none.
	Compression string `yaml:"compression" json:"compression,omitempty"`
}

// Output compression codecs.
const (
	CompressionSnappy = "snappy"
	CompressionZstd   = "zstd"
	CompressionNone   = "none"
)

// WriterOptions returns the options every output table is written with
// (the Beam runner writes its tables with them too).
func (o *OutputConfig) WriterOptions() writers.Options {
	return writers.Options{Compression: map[string]writers.Compression{
		CompressionSnappy: writers.Snappy, CompressionZstd: writers.Zstd, CompressionNone: writers.Uncompressed,
	}[o.Compression]}
}

// RunConfig tunes execution and says what failures do.
type RunConfig struct {
	// Workers bounds parallelism; 0 means GOMAXPROCS.
	Workers int `yaml:"workers" json:"workers,omitempty"`
	// OnError is "fail" (the default: the first bad bag stops the run and
	// nothing is written) or "skip" (a bad bag is recorded in fits/ with
	// status failed and its reason, every other bag is fitted and written).
	OnError string `yaml:"on_error" json:"on_error,omitempty"`
	// MaxFailedBags, with on_error: skip, turns more failed bags than this
	// into a failed run. Unset means no limit.
	MaxFailedBags *Limit `yaml:"max_failed_bags" json:"max_failed_bags,omitempty"`
	// MemoryLimit is the memory budget of the run, such as 512MiB or 4GiB;
	// 0 (unset) means no budget. Rows that would not fit are partitioned by
	// a hash of the bag key into spill files under TempDir and fitted one
	// partition at a time, and the Go runtime's soft memory limit is set to
	// it. Per-bag state (keys, counts of discrete values, results) is held
	// in memory whatever the budget.
	MemoryLimit ByteSize `yaml:"memory_limit" json:"memory_limit,omitempty"`
	// TempDir is where spill files go, in a folder of their own that is
	// removed when the run ends; "" means the system's temporary folder
	// ($TMPDIR or /tmp).
	TempDir string `yaml:"temp_dir" json:"temp_dir,omitempty"`
}

// MaxWorkers bounds run.workers (and mixbatch run --workers): each
// worker holds its own read, fit and write buffers, and a mistyped count
// (100000000) would exhaust memory before the first bag is fitted.
const MaxWorkers = 1024

// minMemoryLimit is the smallest run.memory_limit: below it the fixed
// costs of a run (buffers of the readers and writers, the Go runtime) do
// not leave room for data.
const minMemoryLimit = 64 << 20

// ByteSize is a number of bytes, written in a config as a whole number
// with an optional unit: B, KiB, MiB, GiB, TiB (powers of 1024) or kB, MB,
// GB, TB (powers of 1000), for example 512MiB.
type ByteSize int64

// byteUnit is a unit of ByteSize.
type byteUnit struct {
	suffix string
	size   int64
}

var byteUnits = []byteUnit{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// parseByteSize reads a ByteSize.
func parseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	unit := int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, unit = strings.TrimSpace(rest), u.size
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/unit {
		err := fmt.Errorf("must be a whole number of bytes with an optional unit (B, KiB, MiB, GiB, TiB, kB, MB, GB, TB), such as 512MiB, got %q", s)
		// Name a unit it does not know (512M, 1g, 512mib), the likely slip.
		all := strings.TrimSpace(s)
		if i := strings.IndexFunc(all, func(r rune) bool { return r < '0' || r > '9' }); i > 0 {
			rest := strings.TrimSpace(all[i:])
			letters := strings.IndexFunc(rest, func(r rune) bool { return !unicode.IsLetter(r) }) < 0
			known := slices.ContainsFunc(byteUnits, func(u byteUnit) bool { return u.suffix == rest })
			if letters && !known {
				err = fmt.Errorf("%w: unknown unit %q", err, rest)
			}
		}
		return 0, err
	}
	return ByteSize(n * unit), nil
}

// String renders b with the largest binary unit that divides it.
func (b ByteSize) String() string {
	for i := 3; i >= 0; i-- {
		u := byteUnits[i]
		if b != 0 && int64(b)%u.size == 0 {
			return strconv.FormatInt(int64(b)/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// UnmarshalYAML reads a number of bytes with an optional unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseByteSize(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		if err == nil {
			err = errors.New("must be a size such as 512MiB")
		}
		return fmt.Errorf("line %d: run.memory_limit %w", n.Line, err)
	}
	*b = v
	return nil
}

// MarshalYAML writes b as UnmarshalYAML reads it.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// MarshalJSON writes b as in YAML.
func (b ByteSize) MarshalJSON() ([]byte, error) { return json.Marshal(b.String()) }

// UnmarshalJSON reads what MarshalJSON writes.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	v, err := parseByteSize(strings.Trim(string(data), `"`))
	if err != nil {
		return fmt.Errorf("run.memory_limit %w", err)
	}
	*b = v
	return nil
}

// Policies that input.nulls and run.on_error accept.
const (
	NullsError   = "error"
	NullsDrop    = "drop"
	OnErrorFail  = "fail"
	OnErrorSkip  = "skip"
	failedSample = 10 // failed bags logged one by one before a total
)

// Limit is a count or a fraction of the bags: a whole number (3) is a
// count, a number strictly between 0 and 1 (0.01) or a percentage ("1%")
// is a fraction.
type Limit struct {
	Count    int64   // used when Fraction is 0
	Fraction float64 // in (0, 1)
}

// Exceeded reports whether failed bags out of total are more than l allows.
func (l *Limit) Exceeded(failed, total int) bool {
	if l == nil {
		return false
	}
	if l.Fraction > 0 {
		return float64(failed) > l.Fraction*float64(total)
	}
	return int64(failed) > l.Count
}

// String renders l as the config writes it.
func (l Limit) String() string {
	if l.Fraction > 0 {
		return strconv.FormatFloat(l.Fraction, 'g', -1, 64)
	}
	return strconv.FormatInt(l.Count, 10)
}

// parseLimit reads a count, a fraction or a percentage.
func parseLimit(s string) (Limit, error) {
	bad := fmt.Errorf("must be a count of bags (0, 1, 2, ...), a fraction in (0, 1) or a percentage below 100%% such as 1%% (leave it unset for no limit), got %q", s)
	t := strings.TrimSpace(s)
	if pct, ok := strings.CutSuffix(t, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || !(v >= 0 && v < 100) {
			return Limit{}, bad
		}
		if v == 0 {
			return Limit{}, nil
		}
		return Limit{Fraction: v / 100}, nil
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n < 0 {
			return Limit{}, bad
		}
		return Limit{Count: n}, nil
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v > 0 && v < 1) {
		return Limit{}, bad
	}
	return Limit{Fraction: v}, nil
}

// UnmarshalYAML reads a count, a fraction or a percentage.
func (l *Limit) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: run.max_failed_bags must be a count, a fraction or a percentage", n.Line)
	}
	v, err := parseLimit(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: run.max_failed_bags %w", n.Line, err)
	}
	*l = v
	return nil
}

// MarshalYAML writes the count or the fraction.
func (l Limit) MarshalYAML() (any, error) {
	if l.Fraction > 0 {
		return l.Fraction, nil
	}
	return l.Count, nil
}

// MarshalJSON writes the count or the fraction, as in YAML.
func (l Limit) MarshalJSON() ([]byte, error) {
	v, _ := l.MarshalYAML()
	return json.Marshal(v)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *Limit) UnmarshalJSON(b []byte) error {
	v, err := parseLimit(strings.Trim(string(b), `"`))
	if err != nil {
		return fmt.Errorf("run.max_failed_bags %w", err)
	}
	*l = v
	return nil
}

// DefaultConfig holds the defaults applied before a config file is decoded.
var DefaultConfig = Config{
	Input:  InputConfig{Nulls: NullsError},
	Model:  ModelConfig{Scope: ScopeBag, RegCovar: 1e-6, Select: SelectBIC},
	Output: OutputConfig{Compression: CompressionSnappy},
	Run:    RunConfig{OnError: OnErrorFail},
	EM: EMConfig{
		MaxIter:    10000,
		Tol:        1e-10,
		Accelerate: "squarem",
	},
}

// LoadFile reads, strictly decodes and validates a config file.
func LoadFile(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg, err := Load(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.Path = path
	return cfg, nil
}

// Load strictly decodes and validates a config from YAML bytes: unknown
// keys, duplicate keys and wrong types are errors that give the line.
func Load(b []byte) (*Config, error) {
	// A first look at the node tree, for what the struct decode cannot
	// tell: an empty document, and fractions in integer keys (yaml.v3
	// truncates 1.5 into an int).
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, friendlyYAML(err, nil, b)
	}
	if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		return nil, errors.New("the config is empty")
	}
	if err := checkIntegers(&doc); err != nil {
		return nil, err
	}
	cfg := DefaultConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the config is empty")
		}
		return nil, friendlyYAML(err, &doc, b)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("the config holds more than one YAML document")
	}
	sum := sha256.Sum256(b)
	cfg.Digest = hex.EncodeToString(sum[:])
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// intNode records the YAML node of a key that takes a whole number, for
// checkIntegers.
type intNode struct{ n *yaml.Node }

// UnmarshalYAML keeps the node, which the decoder hands over with aliases
// and merge keys (<<) already resolved.
func (i *intNode) UnmarshalYAML(n *yaml.Node) error {
	i.n = n
	return nil
}

// integerKeys shadows Config's keys that take whole numbers.
type integerKeys struct {
	Model struct {
		ComponentsRange []intNode `yaml:"components_range"`
	} `yaml:"model"`
	EM struct {
		MaxIter  intNode `yaml:"max_iter"`
		Restarts intNode `yaml:"restarts"`
		Seed     intNode `yaml:"seed"`
	} `yaml:"em"`
	Run struct {
		Workers intNode `yaml:"workers"`
	} `yaml:"run"`
}

// checkIntegers refuses anything but an integer in an integer key, however
// the key is reached (written out, through an alias or a merge key): the
// struct decode would truncate 1.5 into 1. A null is left to mean unset,
// as for the other keys.
func checkIntegers(doc *yaml.Node) error {
	var keys integerKeys
	_ = doc.Decode(&keys) // wrong shapes are the strict decode's to report
	check := []struct {
		key  string
		node intNode
	}{
		{"em.max_iter", keys.EM.MaxIter}, {"em.restarts", keys.EM.Restarts}, {"em.seed", keys.EM.Seed},
		{"run.workers", keys.Run.Workers},
	}
	for i, n := range keys.Model.ComponentsRange {
		check = append(check, struct {
			key  string
			node intNode
		}{fmt.Sprintf("model.components_range[%d]", i), n})
	}
	for _, c := range check {
		if v := c.node.n; v != nil && v.Kind == yaml.ScalarNode && v.ShortTag() != "!!int" {
			return fmt.Errorf("line %d: %s must be a whole number, got %q", v.Line, c.key, v.Value)
		}
	}
	return nil
}

var (
	yamlFieldRE = regexp.MustCompile(`field (\S+) not found in type pipeline\.(\w+)`)
	yamlTypeRE  = regexp.MustCompile(`cannot unmarshal !!(\w+) ` + "`" + `([^` + "`" + `]*)` + "`" + ` into (\S+)`)
	// yamlTypeLineRE is one entry of a yaml.TypeError.
	yamlTypeLineRE = regexp.MustCompile(`^line (\d+): cannot unmarshal !!(\w+)(?: ` + "`" + `(.*)` + "`" + `)? into (\S+)$`)
	yamlLineRE     = regexp.MustCompile(`^line (\d+): `)
	sections       = map[string]struct {
		name string
		typ  reflect.Type
	}{
		"Config":          {"the top level", reflect.TypeFor[Config]()},
		"InputConfig":     {"input", reflect.TypeFor[InputConfig]()},
		"ModelConfig":     {"model", reflect.TypeFor[ModelConfig]()},
		"ComponentConfig": {"a model.components entry", reflect.TypeFor[ComponentConfig]()},
		"EMConfig":        {"em", reflect.TypeFor[EMConfig]()},
		"OutputConfig":    {"output", reflect.TypeFor[OutputConfig]()},
		"RunConfig":       {"run", reflect.TypeFor[RunConfig]()},
	}
	// goTypes says in config terms what a Go type of the config takes.
	goTypes = map[string]string{
		"float64": "a number", "int": "a whole number", "int64": "a whole number",
		"uint64": "a whole number, 0 or more", "bool": "true or false", "string": "a string",
		"[]string": "a list of strings", "[]int": "a list of whole numbers",
		"map[string]float64":         "a mapping of labels to numbers",
		"[]pipeline.ComponentConfig": "a list of components",
		"pipeline.ComponentConfig":   "a mapping of a component's keys (name and parameters)",
		"pipeline.InputConfig":       "a mapping of keys", "pipeline.ModelConfig": "a mapping of keys",
		"pipeline.EMConfig": "a mapping of keys", "pipeline.OutputConfig": "a mapping of keys",
		"pipeline.RunConfig": "a mapping of keys",
	}
)

// friendlyYAML rewrites yaml.v3's Go-flavoured messages in config terms:
// an unknown key is named with its section and the keys the section
// takes, a value of the wrong type with its key (found in doc, the parsed
// config, when given), and a tab where YAML wants spaces is said to be
// one (b is the config's text).
func friendlyYAML(err error, doc *yaml.Node, b []byte) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && doc != nil {
		msgs := make([]string, len(te.Errors))
		for i, e := range te.Errors {
			msgs[i] = typeErrorInTerms(e, doc)
		}
		err = errors.New("yaml: unmarshal errors:\n  " + strings.Join(msgs, "\n  "))
	}
	msg := err.Error()
	msg = yamlFieldRE.ReplaceAllStringFunc(msg, func(m string) string {
		s := yamlFieldRE.FindStringSubmatch(m)
		sec := sections[s[2]]
		return fmt.Sprintf("unknown key %q in %s (it takes %s)", s[1], sec.name, strings.Join(yamlKeys(sec.typ), ", "))
	})
	msg = strings.ReplaceAll(msg, "yaml: unmarshal errors:\n  ", "")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	if te == nil && !yamlLineRE.MatchString(msg) {
		// yaml.v3 gives no line for a problem on the first line, nor for
		// a byte its reader refuses (see yamlProblemLine).
		msg = fmt.Sprintf("line %d: %s", yamlProblemLine(msg, b), msg)
	}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil && strings.Contains(msg, "cannot start any token") {
		// yaml.v3's scanner says so about a tab that indents a line.
		line, _ := strconv.Atoi(m[1])
		if lines := strings.Split(string(b), "\n"); line >= 1 && line <= len(lines) {
			l := lines[line-1]
			if indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]; strings.Contains(indent, "\t") {
				msg += " (the line is indented with a tab: YAML indents with spaces only)"
			}
		}
	}
	return errors.New(msg)
}

// yamlProblemLine returns the line of the problem of a yaml.v3 error
// message msg that gives none, in config text b: for an error of its
// reader (invalid UTF-8, a control character), the line of the first
// character it refuses (YAML's printable set, yaml.v3's readerc.go); for
// any other, line 1, the only line yaml.v3 leaves out.
func yamlProblemLine(msg string, b []byte) int {
	if !strings.Contains(msg, "UTF-8") && !strings.Contains(msg, "Unicode") && !strings.Contains(msg, "control character") {
		return 1
	}
	line := 1
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1:
			return line
		case r == '\n':
			line++
		case r == '\t', r == '\r', r >= 0x20 && r <= 0x7e, r == 0x85, r >= 0xa0 && r <= 0xd7ff,
			r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		default:
			return line
		}
		b = b[n:]
	}
	return 1
}

// typeErrorInTerms rewrites one entry of a yaml.TypeError, such as
// "line 8: cannot unmarshal !!str `high` into float64", naming the key
// the value belongs to: "line 8: model.components[0].p must be a number,
// got "high"". An entry it cannot place is only reworded (inGoTerms).
func typeErrorInTerms(e string, doc *yaml.Node) string {
	m := yamlTypeLineRE.FindStringSubmatch(e)
	if m == nil {
		return inGoTerms(e)
	}
	line, _ := strconv.Atoi(m[1])
	tag, value, goType := "!!"+m[2], m[3], m[4]
	got := "a list"
	switch tag {
	case "!!seq":
	case "!!map":
		got = "a mapping"
	case "!!str":
		got = "the string " + strconv.Quote(value)
	default:
		got = value
	}
	if goType == "pipeline.Config" {
		return fmt.Sprintf("line %d: the config must be a mapping of sections (%s), got %s", line, strings.Join(yamlKeys(reflect.TypeFor[Config]()), ", "), got)
	}
	want, ok := goTypes[goType]
	if !ok {
		return inGoTerms(e)
	}
	// The key is named only when one value of the document fits the
	// error: on one line two values may (a flow mapping and a value in
	// it), and an anchored value is used wherever its aliases are.
	var keys []string
	walkKeys(doc, "", 0, func(path string, n *yaml.Node) bool {
		if n.Line != line || n.ShortTag() != tag || path == "" {
			return false
		}
		if n.Kind == yaml.ScalarNode {
			if short, ok := strings.CutSuffix(value, "..."); !(n.Value == value || ok && strings.HasPrefix(n.Value, short)) {
				return false
			}
		}
		keys = append(keys, path)
		if n.Anchor != "" {
			keys = append(keys, "(its aliases)")
		}
		return len(keys) > 1
	})
	if len(keys) != 1 {
		return inGoTerms(e)
	}
	return fmt.Sprintf("line %d: %s must be %s, got %s", line, keys[0], want, got)
}

// inGoTerms rewrites a yaml.TypeError entry that typeErrorInTerms cannot
// place: "cannot use str `high` as float64".
func inGoTerms(e string) string {
	return yamlTypeRE.ReplaceAllString(e, "cannot use $1 `$2` as $3")
}

// walkKeys calls f with the key path (model.components[1].sd) of every
// value under n, depth first in document order, into mappings written out
// after merge keys (<<) but not through aliases (an alias's value is
// walked where its anchor is: following them, a short document of
// aliases of aliases would take years), until f returns true; it reports
// whether f did.
func walkKeys(n *yaml.Node, path string, depth int, f func(path string, n *yaml.Node) bool) bool {
	if n == nil || depth > 64 {
		return false
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if walkKeys(c, path, depth+1, f) {
				return true
			}
		}
	case yaml.AliasNode:
		return false
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.ShortTag() == "!!merge" {
				if walkKeys(v, path, depth+1, f) {
					return true
				}
				continue
			}
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if f(p, v) || walkKeys(v, p, depth+1, f) {
				return true
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if f(p, c) || walkKeys(c, p, depth+1, f) {
				return true
			}
		}
	}
	return false
}

// yamlKeys lists the YAML keys of a config struct type, in field order.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && name != "-" && name != "" {
			keys = append(keys, name)
		}
	}
	return keys
}

// probTol is how far from 1 a categorical component's probabilities may sum.
const probTol = 1e-9

// Validate checks the config and returns the first problem, naming its field.
func (c *Config) Validate() error {
	if err := checkLineBreaks(reflect.ValueOf(c).Elem(), ""); err != nil {
		return err
	}
	in := &c.Input
	if len(in.Paths) == 0 {
		return errors.New("input.paths is required (files, directories or globs)")
	}
	for i, p := range in.Paths {
		if strings.TrimSpace(p) == "" {
			return fmt.Errorf("input.paths[%d] is empty", i)
		}
		// file:// URLs are local paths; object URLs must be well formed.
		clean, err := store.Clean(p)
		if err != nil {
			return fmt.Errorf("input.paths[%d]: %w", i, err)
		}
		in.Paths[i] = clean
	}
	if in.Bag == "" {
		return errors.New("input.bag is required (the bag column)")
	}
	if len(in.Value) == 0 || len(in.Value) == 1 && in.Value[0] == "" {
		return errors.New("input.value is required (the observation column; a list of columns for multivariate_gaussian)")
	}
	seen := map[string]bool{in.Bag: true}
	for i, v := range in.Value {
		field := "input.value"
		if len(in.Value) > 1 {
			field = fmt.Sprintf("input.value[%d]", i)
		}
		switch {
		case v == "":
			return fmt.Errorf("%s is empty", field)
		case v == in.Bag:
			return fmt.Errorf("input.bag and %s are the same column %q", field, in.Bag)
		case seen[v]:
			return fmt.Errorf("%s %q is listed twice", field, v)
		}
		seen[v] = true
	}
	if in.Count != "" && seen[in.Count] {
		return fmt.Errorf("input.count %q is also the bag or value column", in.Count)
	}
	for i, k := range in.Keep {
		if k == "" {
			return fmt.Errorf("input.keep[%d] is empty", i)
		}
		if seen[k] {
			return fmt.Errorf("input.keep[%d] %q is listed twice or is the bag or value column (which the posteriors table has anyway)", i, k)
		}
		seen[k] = true
	}
	if in.Nulls != NullsError && in.Nulls != NullsDrop {
		return fmt.Errorf("input.nulls must be error or drop, got %q", in.Nulls)
	}
	if err := c.Model.validate(); err != nil {
		return err
	}
	if len(in.Value) > 1 && c.Model.Family != MultivariateGaussian {
		return fmt.Errorf("input.value lists %d columns (%s), but only multivariate_gaussian takes more than one: %s values are one column",
			len(in.Value), in.Value, c.Model.Family)
	}
	if err := c.checkColumns(); err != nil {
		return err
	}
	if len(c.Model.ComponentsRange) > 0 && c.EM.Init.Weights != nil {
		return errors.New("em.init weights cannot be given with model.components_range: K varies")
	}
	if err := c.EM.validate(len(c.Model.Names())); err != nil {
		return err
	}
	switch c.Output.Compression {
	case CompressionSnappy, CompressionZstd, CompressionNone:
	default:
		return fmt.Errorf("output.compression must be snappy, zstd or none, got %q", c.Output.Compression)
	}
	if c.Output.Dir == "" {
		return errors.New("output.dir is required")
	}
	dir, err := store.Clean(c.Output.Dir)
	if err != nil {
		return fmt.Errorf("output.dir: %w", err)
	}
	c.Output.Dir = dir
	if err := checkOutputDir(c.Output.Dir, in.Paths); err != nil {
		return err
	}
	if err := checkTempDir(c.Run.TempDir, c.Output.Dir); err != nil {
		return err
	}
	if c.Run.Workers < 0 {
		return fmt.Errorf("run.workers must be >= 0 (0 means one per CPU), got %d", c.Run.Workers)
	}
	if c.Run.Workers > MaxWorkers {
		return fmt.Errorf("run.workers must be at most %d (0 means one per CPU), got %d", MaxWorkers, c.Run.Workers)
	}
	if c.Run.MemoryLimit != 0 && c.Run.MemoryLimit < minMemoryLimit {
		return fmt.Errorf("run.memory_limit must be at least %s (or unset for no limit), got %s", ByteSize(minMemoryLimit), c.Run.MemoryLimit)
	}
	if c.Run.OnError != OnErrorFail && c.Run.OnError != OnErrorSkip {
		return fmt.Errorf("run.on_error must be fail or skip, got %q", c.Run.OnError)
	}
	if c.Run.MaxFailedBags != nil && c.Run.OnError != OnErrorSkip {
		return errors.New("run.max_failed_bags needs run.on_error: skip (with fail, the first failed bag stops the run)")
	}
	return nil
}

// checkColumns refuses input column names that would give an output table
// two columns of one name: such tables cannot be read back by name.
func (c *Config) checkColumns() error {
	in := &c.Input
	for _, out := range []struct {
		table string
		cols  []string
	}{
		{WeightsTable, []string{"component", "weight", "std_error", "p", "mean", "sd", "rate", "probs", "cov",
			"p_std_error", "mean_std_error", "sd_std_error", "rate_std_error"}},
		{FitsTable, []string{"n_obs", "n_dropped", "total_count", "iterations", "converged", "log_likelihood", "gap", "status", "error",
			"n_components", "bic", "aic"}},
	} {
		for _, col := range out.cols {
			if in.Bag == col {
				return fmt.Errorf("input.bag %q clashes with the %s table's column of that name", in.Bag, out.table)
			}
		}
	}
	// The posteriors table: bag, keep..., value, posterior_<name>..., component.
	owner := map[string]string{in.Bag: "input.bag"}
	for _, v := range in.Value {
		owner[v] = "input.value"
	}
	for _, k := range in.Keep {
		owner[k] = "input.keep"
	}
	for _, name := range c.Model.Names() {
		if who, ok := owner[PosteriorPrefix+name]; ok {
			return fmt.Errorf("%s column %q clashes with the posteriors column of component %q", who, PosteriorPrefix+name, name)
		}
	}
	if who, ok := owner["component"]; ok {
		return fmt.Errorf("%s column \"component\" clashes with the posteriors table's component column (the most probable component)", who)
	}
	return nil
}

func (m *ModelConfig) validate() error {
	switch m.Family {
	case Bernoulli, Categorical, Gaussian, Poisson, MultivariateGaussian:
	case "":
		return errors.New("model.family is required: " + familyList)
	default:
		return fmt.Errorf("model.family must be %s, got %q", familyList, m.Family)
	}
	if m.Family == MultivariateGaussian {
		switch m.Covariance {
		case "":
			m.Covariance = em.CovFull.String()
		case em.CovFull.String(), em.CovDiag.String(), em.CovSpherical.String():
		default:
			return fmt.Errorf("model.covariance must be full, diag or spherical, got %q", m.Covariance)
		}
	} else if m.Covariance != "" {
		return fmt.Errorf("model.covariance is for the multivariate_gaussian family, not %s", m.Family)
	}
	if m.Learn == nil {
		m.Learn = []string{"weights"}
	}
	if len(m.Learn) == 0 {
		return errors.New("model.learn must list what to learn: weights and/or component parameters")
	}
	params := familyParams[m.Family]
	seen := map[string]bool{}
	for i, q := range m.Learn {
		if q != "weights" && !slices.Contains(params, q) {
			return fmt.Errorf("model.learn[%d] %q is not weights or a parameter of the %s family (%s)", i, q, m.Family, strings.Join(params, ", "))
		}
		if seen[q] {
			return fmt.Errorf("model.learn[%d] %q is listed twice", i, q)
		}
		seen[q] = true
	}
	if m.Family == MultivariateGaussian && (!m.Learns("mean") || !m.Learns("cov")) {
		return fmt.Errorf("model.learn %v: %s", m.Learn, mvnNoParams)
	}
	switch m.Scope {
	case ScopeBag:
	case ScopeShared:
		if !m.LearnsParams() {
			return errors.New("model.scope: shared needs component parameters to learn (model.learn lists none); with fixed components every bag is fitted on its own anyway")
		}
		if !m.Learns("weights") {
			return errors.New("model.scope: shared needs weights in model.learn: the bags differ only in their weights")
		}
		if m.Family == Bernoulli {
			return errors.New("model.scope: shared cannot learn p for bernoulli components: with free weights per bag the shared p are not identifiable (any p1 above and p2 below every bag's share of ones fits equally well); fix p, or use scope: bag")
		}
	default:
		return fmt.Errorf("model.scope must be bag or shared, got %q", m.Scope)
	}
	if m.Scope == ScopeBag && (len(m.Components) > 1 || len(m.ComponentsRange) == 2 && m.ComponentsRange[1] > 1) {
		switch {
		case m.Family == Bernoulli && m.Learns("p"):
			return errors.New("model.learn: p cannot be learned per bag: a mixture of bernoulli components is itself one bernoulli, so a bag determines only its share of ones, not the components and weights apart; learn only the weights (fixed p), or use one component")
		case m.Family == Categorical && m.Learns("probs"):
			return errors.New("model.learn: probs cannot be learned per bag: a mixture of categorical components is itself one categorical, so a bag determines only its label shares, not the components and weights apart; learn only the weights, or share the components across bags (model.scope: shared)")
		}
	}
	if !(m.RegCovar > 0) || math.IsInf(m.RegCovar, 1) {
		return fmt.Errorf("model.reg_covar must be positive and finite, got %v", m.RegCovar)
	}
	if m.Select != SelectBIC && m.Select != SelectAIC {
		return fmt.Errorf("model.select must be bic or aic, got %q", m.Select)
	}
	if r := m.ComponentsRange; len(r) > 0 {
		if len(m.Components) > 0 {
			return errors.New("model.components_range and model.components are exclusive: the range names its components c1..cK")
		}
		if len(r) != 2 || r[0] < 1 || r[1] < r[0] || r[1] > maxComponents {
			return fmt.Errorf("model.components_range must be [lo, hi] with 1 <= lo <= hi <= %d, got %v", maxComponents, r)
		}
		for _, q := range params {
			if !m.Learns(q) {
				return fmt.Errorf("model.components_range needs every %s parameter learned: add %s to model.learn", m.Family, q)
			}
		}
		if !m.Learns("weights") {
			return errors.New("model.components_range needs weights in model.learn")
		}
		if m.Scope == ScopeShared {
			return errors.New("model.components_range works with model.scope: bag only in this release")
		}
		if m.Family == Categorical && len(m.labels()) < 2 {
			return errors.New("model.labels must list at least two labels with model.components_range")
		}
		return nil
	}
	if len(m.Components) == 0 {
		return errors.New("model.components must list at least one component")
	}
	if m.Labels != nil && m.Family != Categorical {
		return fmt.Errorf("model.labels is for the categorical family, not %s", m.Family)
	}
	seenLabel := map[string]bool{}
	for i, l := range m.Labels {
		if seenLabel[l] {
			return fmt.Errorf("model.labels[%d] %q is listed twice", i, l)
		}
		seenLabel[l] = true
	}
	names := map[string]int{}
	for i := range m.Components {
		c := &m.Components[i]
		field := fmt.Sprintf("model.components[%d]", i)
		if c.Name == "" {
			return fmt.Errorf("%s.name is required", field)
		}
		if j, dup := names[c.Name]; dup {
			return fmt.Errorf("%s.name %q is already the name of model.components[%d]", field, c.Name, j)
		}
		names[c.Name] = i
		if err := c.validate(field, m.Family, m.Learn); err != nil {
			return err
		}
		for label := range c.Probs {
			if m.Labels != nil && !seenLabel[label] {
				return fmt.Errorf("%s.probs label %q is not in model.labels", field, label)
			}
		}
	}
	for _, q := range params {
		if !m.Learns(q) {
			continue
		}
		given := 0
		for _, c := range m.Components {
			if map[string]bool{"p": c.P != nil, "probs": c.Probs != nil, "mean": c.Mean != nil, "sd": c.SD != nil, "rate": c.Rate != nil}[q] {
				given++
			}
		}
		if given != 0 && given != len(m.Components) {
			return fmt.Errorf("model.components: give the learned %s a starting value in every component or in none (%d of %d give one)", q, given, len(m.Components))
		}
	}
	if m.Family == Categorical && m.Learns("probs") && len(m.labels()) < 2 {
		return errors.New("model.labels must list at least two labels when probs are learned (or give them in the components' probs)")
	}
	return nil
}

// Names returns the component names: those of model.components, or c1..cK
// for the largest K of model.components_range.
func (m *ModelConfig) Names() []string {
	if r := m.ComponentsRange; len(r) == 2 {
		names := make([]string, r[1])
		for k := range names {
			names[k] = fmt.Sprintf("c%d", k+1)
		}
		return names
	}
	names := make([]string, len(m.Components))
	for i, c := range m.Components {
		names[i] = c.Name
	}
	return names
}

// labels returns the categorical labels, sorted: model.labels, or the
// labels the components' probs name.
func (m *ModelConfig) labels() []string {
	set := map[string]bool{}
	for _, l := range m.Labels {
		set[l] = true
	}
	for _, c := range m.Components {
		for l := range c.Probs {
			set[l] = true
		}
	}
	return sortedKeys(set)
}

// maxComponents bounds K in model.components_range.
const maxComponents = 20

func (c *ComponentConfig) validate(field, family string, learn []string) error {
	given := map[string]bool{"p": c.P != nil, "probs": c.Probs != nil, "mean": c.Mean != nil, "sd": c.SD != nil, "rate": c.Rate != nil}
	params := familyParams[family]
	if family == MultivariateGaussian && given["mean"] {
		return fmt.Errorf("%s.mean: %s", field, mvnNoParams)
	}
	for _, name := range []string{"p", "probs", "mean", "sd", "rate"} {
		wanted := slices.Contains(params, name)
		if given[name] && !wanted {
			return fmt.Errorf("%s.%s is not a parameter of the %s family (it takes %s)", field, name, family, strings.Join(params, ", "))
		}
		if !given[name] && wanted && !slices.Contains(learn, name) {
			return fmt.Errorf("%s.%s is required for the %s family (unless model.learn lists it)", field, name, family)
		}
	}
	if c.P != nil && !(*c.P >= 0 && *c.P <= 1) {
		return fmt.Errorf("%s.p must be in [0, 1], got %v", field, *c.P)
	}
	if c.Probs != nil {
		if len(c.Probs) == 0 {
			return fmt.Errorf("%s.probs must give at least one label", field)
		}
		sum := 0.0
		for _, label := range sortedKeys(c.Probs) {
			v := c.Probs[label]
			if !(v >= 0 && v <= 1) {
				return fmt.Errorf("%s.probs[%s] must be in [0, 1], got %v", field, label, v)
			}
			sum += v
		}
		if math.Abs(sum-1) > probTol {
			return fmt.Errorf("%s.probs must sum to 1, got %v (off by %+.3g)", field, sum, sum-1)
		}
	}
	if c.Mean != nil && (math.IsNaN(*c.Mean) || math.IsInf(*c.Mean, 0)) {
		return fmt.Errorf("%s.mean must be finite, got %v", field, *c.Mean)
	}
	if c.SD != nil && (!(*c.SD > 0) || math.IsInf(*c.SD, 1)) {
		return fmt.Errorf("%s.sd must be positive and finite, got %v", field, *c.SD)
	}
	if c.Rate != nil && (!(*c.Rate > 0) || math.IsInf(*c.Rate, 1)) {
		return fmt.Errorf("%s.rate must be positive and finite, got %v", field, *c.Rate)
	}
	return nil
}

func (e *EMConfig) validate(k int) error {
	if w := e.Init.Weights; w != nil {
		if len(w) != k {
			return fmt.Errorf("em.init lists %d weights but there are %d components", len(w), k)
		}
		sum := 0.0
		for i, v := range w {
			if !(v > 0 && v <= 1) {
				return fmt.Errorf("em.init[%d] must be in (0, 1], got %v (EM can never move a weight away from exactly 0)", i, v)
			}
			sum += v
		}
		if math.Abs(sum-1) > 1e-6 {
			return fmt.Errorf("em.init must sum to 1, got %v (off by %+.3g)", sum, sum-1)
		}
	}
	if e.MaxIter < 1 {
		return fmt.Errorf("em.max_iter must be >= 1, got %d", e.MaxIter)
	}
	if !(e.Tol > 0 && e.Tol < 1) {
		return fmt.Errorf("em.tol must be in (0, 1), got %v", e.Tol)
	}
	if e.Accelerate != "squarem" && e.Accelerate != "none" {
		return fmt.Errorf("em.accelerate must be squarem or none, got %q", e.Accelerate)
	}
	if e.Restarts < 0 {
		return fmt.Errorf("em.restarts must be >= 0 (0 means 10), got %d", e.Restarts)
	}
	return nil
}

// checkOutputDir refuses an output folder that is inside an input folder
// (the next run would read the results as input) or that contains an input
// (overwrite would delete it).
func checkOutputDir(dir string, inputs []string) error {
	if store.IsURL(dir) {
		return checkOutputURL(dir, inputs)
	}
	out, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("output.dir: %w", err)
	}
	// The paths are compared as written and with their symbolic links
	// resolved, so that a link does not hide an output inside an input.
	outReal := realPath(out)
	// Publishing replaces the folder, which cannot be done to the working
	// directory (or one holding it) of the very process.
	if cwd, err := os.Getwd(); err == nil && (within(cwd, out) || within(realPath(cwd), outReal)) {
		return fmt.Errorf("output.dir %q is the working directory or holds it; name a folder of its own", dir)
	}
	for i, p := range inputs {
		if store.IsURL(p) {
			continue // an object store holds no local folder
		}
		// A glob's fixed prefix is the folder it can match in.
		if j := strings.IndexAny(p, "*?["); j >= 0 {
			p = filepath.Dir(p[:j] + "x")
		}
		in, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("input.paths[%d]: %w", i, err)
		}
		inReal := realPath(in)
		if within(out, in) || within(outReal, inReal) {
			return fmt.Errorf("output.dir %q is inside input.paths[%d] %q: the results would be read as input next time", dir, i, inputs[i])
		}
		if within(in, out) || within(inReal, outReal) {
			return fmt.Errorf("input.paths[%d] %q is inside output.dir %q: writing the output would replace the input", i, inputs[i], dir)
		}
	}
	return nil
}

// checkTempDir refuses a run.temp_dir inside a local output.dir: the
// output folder is replaced by the run's (and a spill folder under it
// would go with it, or be published with it after a killed run).
func checkTempDir(tmp, out string) error {
	if tmp == "" || store.IsURL(out) {
		return nil
	}
	t, err := filepath.Abs(tmp)
	if err != nil {
		return fmt.Errorf("run.temp_dir: %w", err)
	}
	o, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("output.dir: %w", err)
	}
	if within(t, o) || within(realPath(t), realPath(o)) {
		return fmt.Errorf("run.temp_dir %q is inside output.dir %q, which each run replaces; name a folder outside it", tmp, out)
	}
	return nil
}

// CheckTempDir checks, for mixbatch validate, the folder a run spills
// rows to: with run.memory_limit set, a run whose rows would not fit it
// makes its spill folder under run.temp_dir (the system's temporary
// folder when unset), and fails there if that is not a folder. Whether a
// run spills depends on the night's rows, so validate checks it whenever
// it could. Without a memory limit nothing spills and nothing is checked.
func (c *Config) CheckTempDir() error {
	if c.Run.MemoryLimit == 0 {
		return nil
	}
	dir, key := c.Run.TempDir, "run.temp_dir"
	if dir == "" {
		dir, key = os.TempDir(), "run.temp_dir (unset: the system's temporary folder, $TMPDIR or /tmp)"
	}
	fi, err := os.Stat(dir)
	if err == nil && !fi.IsDir() {
		err = errors.New("not a folder")
	}
	if err != nil {
		return fmt.Errorf("%s %q: %w; a run whose rows exceed run.memory_limit %s spills there, and would fail", key, dir, err, c.Run.MemoryLimit)
	}
	return nil
}

// RelativePaths reports whether any local path of the config (an input
// path, output.dir, run.temp_dir) is relative: such paths are taken from
// the working directory of the process, not from the config file's
// folder, which messages about them then name.
func (c *Config) RelativePaths() bool {
	for _, p := range append(slices.Clone(c.Input.Paths), c.Output.Dir, c.Run.TempDir) {
		if p != "" && !store.IsURL(p) && !filepath.IsAbs(p) {
			return true
		}
	}
	return false
}

// realPath returns the absolute path abs with the symbolic links of its
// longest existing prefix resolved, and the rest (not created yet) as it
// is.
func realPath(abs string) string {
	rest := ""
	for cur := abs; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// checkOutputURL is checkOutputDir for an object-store output.dir: the
// locations are compared by scheme, bucket and key prefix (the query,
// which configures the client, is left out).
func checkOutputURL(dir string, inputs []string) error {
	out, ok := urlKey(dir)
	if !ok {
		return nil // store.Clean has checked it; nothing to compare
	}
	for i, p := range inputs {
		if !store.IsURL(p) {
			continue
		}
		in, ok := urlKey(p)
		if !ok {
			continue
		}
		if within(out, in) {
			return fmt.Errorf("output.dir %q is inside input.paths[%d] %q: the results would be read as input next time", store.Redact(dir), i, store.Redact(inputs[i]))
		}
		if within(in, out) {
			return fmt.Errorf("input.paths[%d] %q is inside output.dir %q: writing the output would replace the input", i, store.Redact(inputs[i]), store.Redact(dir))
		}
	}
	return nil
}

// urlKey returns an object URL as a slash path, scheme/bucket/key, with a
// glob reduced to its fixed prefix, for within.
func urlKey(location string) (string, bool) {
	u, err := url.Parse(location)
	if err != nil {
		return "", false
	}
	p := u.Path
	if j := strings.IndexAny(p, "*?["); j >= 0 {
		p = path.Dir(p[:j] + "x")
	}
	return filepath.FromSlash(path.Join("/", strings.ToLower(u.Scheme), u.Host, p)), true
}

// redacted returns a copy of c whose locations are redacted (see
// store.Redact), for the manifest.
func (c *Config) redacted() *Config {
	cp := *c
	cp.Input.Paths = make([]string, len(c.Input.Paths))
	for i, p := range c.Input.Paths {
		cp.Input.Paths[i] = store.Redact(p)
	}
	cp.Output.Dir = store.Redact(c.Output.Dir)
	return &cp
}

// within reports whether path is root or below it.
func within(path, root string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkLineBreaks refuses a line break in any string of the config (a
// path, column, component name or label), naming its key: none is meant,
// and YAML cannot write every one back (yaml.v3 drops a leading one).
func checkLineBreaks(v reflect.Value, key string) error {
	switch v.Kind() {
	case reflect.String:
		if strings.ContainsAny(v.String(), "\n\r") {
			return fmt.Errorf("%s %q holds a line break", key, v.String())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if key != "" {
				name = key + "." + name
			}
			if err := checkLineBreaks(v.Field(i), name); err != nil {
				return err
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if err := checkLineBreaks(v.Index(i), fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			if err := checkLineBreaks(k, key+" label"); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			return checkLineBreaks(v.Elem(), key)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
