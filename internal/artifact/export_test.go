package artifact

// Test helpers shared with the external tests (package artifact_test).
var (
	GitRepoForTest      = gitRepo
	HelloRequestForTest = helloRequest
)
