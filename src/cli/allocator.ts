// DuckDB's allocator (the jemalloc built into its library) hands pages it no longer needs back to the system in
// two steps: after 1 s unused (DuckDB's dirty_decay_ms) it marks them MADV_FREE ("muzzy"), and only after another
// 1 s (muzzy_decay_ms) does it drop them. A MADV_FREE page stays in the process's RSS until the kernel needs
// the memory, which on a machine with memory to spare is never: every page DuckDB ever freed kept counting. With
// muzzy_decay_ms 0 it drops them at the first step (MADV_DONTNEED), and RSS is what the process holds. Measured
// (bench/main-thread.ts, 100-event batches, 3 rounds of 25 s alternated): peak RSS 564 / 581 / 558 MB ->
// 554 / 531 / 535, CPU per event the same within the noise (27.2 -> 27.7 µs process, 16.2 -> 16.5 main).
//
// jemalloc reads DUCKDB_JE_MALLOC_CONF once, when DuckDB's library is loaded: this module must be evaluated
// before any module that imports @duckdb/node-api, so the CLI imports it first. A value the user set is kept.
process.env.DUCKDB_JE_MALLOC_CONF ??= 'muzzy_decay_ms:0';
