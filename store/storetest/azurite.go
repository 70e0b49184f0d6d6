package storetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
)

// AzuriteEnv names the environment variable that gives the path of
// Azurite's azurite-blob program (npm package azurite); NewAzurite skips
// the test when it is unset.
const AzuriteEnv = "MIXBATCH_AZURITE"

// Azurite's well-known development account and key.
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// NewAzurite starts Azurite's blob service (the program $MIXBATCH_AZURITE)
// on a free loopback port, in memory and without telemetry, creates the
// given containers, and sets the Azure environment for the test (the
// development account), so the test must not be parallel. It skips the
// test when MIXBATCH_AZURITE is unset, and fails it when CI is set too. The Recorder records nothing:
// Azurite runs in its own process.
func NewAzurite(t testing.TB, containers ...string) *Server {
	t.Helper()
	bin := os.Getenv(AzuriteEnv)
	if bin == "" && os.Getenv("CI") != "" {
		// .ci/run installs Azurite: under CI a missing one is a failure,
		// not a silent skip.
		t.Fatalf("%s is not set under CI; .ci/run installs Azurite and sets it", AzuriteEnv)
	}
	if bin == "" {
		t.Skipf("%s is not set: set it to the azurite-blob program of the npm package azurite to test azblob:// URLs", AzuriteEnv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
		"--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent")
	cmd.Dir = t.TempDir() // Azurite writes its debug log and data files here
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Azurite (%s=%s): %v", AzuriteEnv, bin, err)
	}
	t.Cleanup(func() {
		if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("stopping Azurite: %v", err)
		}
		_ = cmd.Wait() // killed: its exit status says so
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Azurite did not listen on %s within 20 s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Setenv("AZURE_STORAGE_ACCOUNT", azuriteAccount)
	t.Setenv("AZURE_STORAGE_KEY", azuriteKey)
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	t.Setenv("AZURE_STORAGEBLOB_CONNECTIONSTRING", "")
	t.Setenv("AZURE_STORAGE_SAS_TOKEN", "")
	closeBuckets(t)
	q := url.Values{"protocol": {"http"}, "domain": {addr}}
	s := &Server{Recorder: &Recorder{}, scheme: "azblob", query: q.Encode()}
	ctx := context.Background()
	for _, name := range containers {
		if err := createContainer(ctx, s.URL(name, "")); err != nil {
			t.Fatalf("creating container %s in Azurite: %v", name, err)
		}
	}
	return s
}

// createContainer creates the container of an azblob URL.
func createContainer(ctx context.Context, u string) (err error) {
	b, err := blob.OpenBucket(ctx, u)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := b.Close(); err == nil {
			err = cerr
		}
	}()
	var c *container.Client
	if !b.As(&c) {
		return fmt.Errorf("%s: not an Azure container", u)
	}
	_, err = c.Create(ctx, nil)
	return err
}
