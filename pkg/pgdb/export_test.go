package pgdb

// OpenHooks is how many transactions have an AfterCommit entry: zero once
// every InTx has returned.
func OpenHooks() int {
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	return len(hooks.m)
}
