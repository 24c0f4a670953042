// Sportello: small progressive enhancement for the pages (no build step, no third-party code).
"use strict";
