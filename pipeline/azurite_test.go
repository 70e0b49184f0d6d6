package pipeline

import (
	"testing"

	"github.com/mixbatch/mixbatch/store/storetest"
)

// TestAzuriteMatchesLocal is TestS3MatchesLocal on Azure Blob Storage
// (Azurite, started from $MIXBATCH_AZURITE; skipped when it is unset).
func TestAzuriteMatchesLocal(t *testing.T) {
	srv := storetest.NewAzurite(t, "inputs", "outputs")
	sameAsLocal(t, srv)
}
