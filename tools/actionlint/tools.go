//go:build tools

// Package tools pins actionlint, which scripts/test builds to check .github/workflows.
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
