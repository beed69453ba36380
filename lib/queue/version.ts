// The Zizq wire version this engine implements (API-budgets.md: 0.7). One constant for
// `GET /version` (lib/http) and the embedded queue's serverVersion() (lib/embedded), so
// the two can never disagree.

export const ENGINE_VERSION = "0.7.0";
