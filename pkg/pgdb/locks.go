package pgdb

// The advisory lock keys the platform takes in a service's database, all in
// one place so that two of them can never share a key (a migrator waiting on
// the relay leader's lock would never start).
const (
	// LockMigrations serialises the service's own migrations (transaction
	// scoped).
	LockMigrations = 7246150
	// LockRelay is held, session scoped, by the one relay that leads.
	LockRelay = 7246151
	// LockJobsMigrations serialises River's migrators (session scoped).
	LockJobsMigrations = 7246152
)
