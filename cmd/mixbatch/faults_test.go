package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as mixbatch itself when a test starts
// it with MIXBATCH_AS_MAIN=1, so that the fault tests can send real signals
// to a real process without building a separate binary.
func TestMain(m *testing.M) {
	if os.Getenv("MIXBATCH_AS_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// process is mixbatch running as a child process.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	done           chan struct{} // closed when the process has exited
	err            error         // Wait's error, once done
}

// lockedBuffer collects a child's output; the test may read it while the
// child is still writing.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(os.Args[0], args...)}
	p.cmd.Env = append(os.Environ(), "MIXBATCH_AS_MAIN=1")
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	// A test that fails or gives up before the child exits must not leave
	// it running (a 6M-row run, or a fit of minutes) after the test.
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// stopTimeout bounds the wait for a signalled run to exit. It is a hang
// guard, not a speed requirement: a run that ignored the signal would go
// on for minutes (or exit 0 having finished), so anything shorter than
// that tells the two apart; how long stopping takes is only logged (on a
// loaded 2-core CI machine it varies too much to assert a tight bound).
const stopTimeout = 30 * time.Second

// waitStopped waits at most stopTimeout for the process; if it is still
// running then, it kills it and fails the test.
func (p *process) waitStopped(t *testing.T) (code int, took time.Duration) {
	t.Helper()
	sent := time.Now()
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("still running %v after the signal: it did not stop\nstderr: %s", stopTimeout, p.stderr.String())
	}
	return p.wait(t), time.Since(sent)
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process and returns its exit status (-1 when killed).
func (p *process) wait(t *testing.T) int {
	t.Helper()
	<-p.done
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		t.Fatal(p.err)
	}
	return p.cmd.ProcessState.ExitCode()
}

// digest maps every file under dir to its SHA-256, to tell whether a
// folder changed.
func digest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameDigest(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("output has %d files, before %d", len(got), len(want))
	}
	for f, h := range want {
		if got[f] != h {
			t.Errorf("output file %s changed or is missing", f)
		}
	}
}

// stagingDirs lists the staging folders in dir.
func stagingDirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".mixbatch-tmp-") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// bigRun generates 6M marbles (about 1 s of posteriors writing on the
// reference machine), runs them once so that an earlier output exists, and
// returns the config path, the output folder and its digest.
func bigRun(t *testing.T) (config, out string, before map[string]string) {
	t.Helper()
	root := t.TempDir()
	in := filepath.Join(root, "in")
	wantExit(t, exitOK, "gen", "marbles", "--bags", "3000", "--rows-per-bag", "2000", "--out", in)
	out = filepath.Join(root, "out")
	config = filepath.Join(root, "run.yaml")
	yml := fmt.Sprintf(`input: {paths: [%q], bag: bag_id, value: red}
model: {family: bernoulli, components: [{name: f1, p: 0.8}, {name: f2, p: 0.3}]}
output: {dir: %q, posteriors: true, overwrite: true}
`, in, out)
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	wantExit(t, exitOK, "run", "--config", config, "--quiet")
	return config, out, digest(t, out)
}

// startWriting starts a run of config and returns once it is writing its
// posteriors into a staging folder next to out, or nil if the run ended
// first.
func startWriting(t *testing.T, config, out string) *process {
	t.Helper()
	p := start(t, "run", "--config", config, "--quiet")
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range stagingDirs(t, filepath.Dir(out)) {
			if _, err := os.Stat(filepath.Join(s, "posteriors")); err == nil {
				return p
			}
		}
		if p.exited() {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	p.wait(t)
	return nil
}

// TestSignalStopsRun sends real SIGINT and SIGTERM to a run that is writing
// its output: it must stop (within stopTimeout, a hang guard) with exit
// status 130 or 143 (a run that ignored the signal finishes and exits 0), remove
// its staging folder and leave the earlier output as it was.
func TestSignalStopsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 6M rows")
	}
	config, out, before := bigRun(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		name string
	}{{syscall.SIGINT, 130, "SIGINT"}, {syscall.SIGTERM, 143, "SIGTERM"}} {
		t.Run(tc.name, func(t *testing.T) {
			var p *process
			for try := 0; try < 3 && p == nil; try++ {
				p = startWriting(t, config, out)
			}
			if p == nil {
				t.Fatal("the run finished three times before it could be interrupted")
			}
			if err := p.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			code, took := p.waitStopped(t)
			t.Logf("%s: exit %d after %v\nstdout: %s\nstderr: %s", tc.name, code, took, p.stdout.String(), p.stderr.String())
			if code != tc.code {
				t.Errorf("exit status %d, want %d", code, tc.code)
			}
			wantContains(t, "stderr", p.stderr.String(), "interrupted by "+tc.name, "left as it was")
			if s := stagingDirs(t, filepath.Dir(out)); len(s) > 0 {
				t.Errorf("staging folders left: %v", s)
			}
			sameDigest(t, digest(t, out), before)
		})
	}
}

// TestSignalStopsLongFit interrupts a run whose every bag would take
// minutes of plain EM (components 1e-7 apart): the fit itself must notice
// the signal, not only the loop between bags.
func TestSignalStopsLongFit(t *testing.T) {
	root := t.TempDir()
	in := filepath.Join(root, "in")
	wantExit(t, exitOK, "gen", "marbles", "--bags", "50", "--rows-per-bag", "100", "--out", in)
	config := filepath.Join(root, "run.yaml")
	yml := fmt.Sprintf(`input: {paths: [%q], bag: bag_id, value: red}
model: {family: bernoulli, components: [{name: f1, p: 0.5}, {name: f2, p: 0.5000001}]}
em: {accelerate: none, max_iter: 2000000000, tol: 1e-300}
output: {dir: %q}
`, in, filepath.Join(root, "out"))
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	interruptFit(t, config, filepath.Join(root, "out"), 100*time.Millisecond)
}

// interruptFit starts a run of config, sends it SIGINT once it has been
// fitting for wait, and checks that it exits 130 without creating out. A
// fit that did not notice the signal would run for minutes: waitStopped's
// hang guard (stopTimeout) fails it, and the time taken is logged.
func interruptFit(t *testing.T, config, out string, wait time.Duration) {
	t.Helper()
	p := start(t, "run", "--config", config)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.stderr.String(), "msg=read") && time.Now().Before(deadline) {
		if p.exited() {
			t.Fatalf("the run ended before it could be interrupted\nstderr: %s", p.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(p.stderr.String(), "msg=read") {
		t.Fatalf("the run logged no read within 30 s\nstderr: %s", p.stderr.String())
	}
	time.Sleep(wait)
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code, took := p.waitStopped(t)
	t.Logf("exit %d %v after SIGINT", code, took)
	if code != 130 {
		t.Errorf("exit %d after %v, want 130\nstderr: %s", code, took, p.stderr.String())
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("output after an interrupted first run: %v, want none", err)
	}
}

// TestSignalStopsLearnedFit interrupts a run whose one bag (2M readings,
// four learned Gaussian components, 20 starts) takes more than a minute:
// the learned fit (its E-steps, Newton steps and starts) must notice the
// signal; it went on to the end of the fit before.
func TestSignalStopsLearnedFit(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 2M rows")
	}
	root := t.TempDir()
	in := filepath.Join(root, "in")
	wantExit(t, exitOK, "gen", "readings", "--bags", "1", "--rows-per-bag", "2000000", "--out", in)
	config := filepath.Join(root, "run.yaml")
	yml := fmt.Sprintf(`input: {paths: [%q], bag: sensor_id, value: value}
model: {family: gaussian, components: [{name: a}, {name: b}, {name: c}, {name: d}], learn: [weights, mean, sd]}
em: {restarts: 20, tol: 1e-14}
run: {workers: 1}
output: {dir: %q}
`, in, filepath.Join(root, "out"))
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	interruptFit(t, config, filepath.Join(root, "out"), 500*time.Millisecond)
}

// TestKill9KeepsOutput kills a run with SIGKILL while it writes: the earlier
// output must be intact and complete, and the next run must succeed and
// remove the dead run's staging folder.
func TestKill9KeepsOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 6M rows")
	}
	config, out, before := bigRun(t)
	var p *process
	for try := 0; try < 3 && p == nil; try++ {
		p = startWriting(t, config, out)
	}
	if p == nil {
		t.Fatal("the run finished three times before it could be killed")
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != -1 {
		t.Errorf("exit status %d after SIGKILL, want -1 (killed)", code)
	}
	sameDigest(t, digest(t, out), before)
	stale := stagingDirs(t, filepath.Dir(out))
	if len(stale) != 1 {
		t.Fatalf("staging folders after kill -9: %v, want the dead run's one", stale)
	}

	next := start(t, "run", "--config", config)
	if code := next.wait(t); code != exitOK {
		t.Fatalf("the run after kill -9: exit %d\n%s", code, next.stderr.String())
	}
	wantContains(t, "stderr", next.stderr.String(), "removed the staging folder of an earlier run that did not finish")
	if s := stagingDirs(t, filepath.Dir(out)); len(s) > 0 {
		t.Errorf("staging folders left after the next run: %v", s)
	}
	after := digest(t, out)
	for _, f := range []string{"_SUCCESS", "manifest.json", "weights/part-00000.parquet", "fits/part-00000.parquet", "posteriors/part-00000.parquet"} {
		if _, ok := after[f]; !ok {
			t.Errorf("the next run's output lacks %s", f)
		}
	}
}
