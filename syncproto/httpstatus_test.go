package syncproto

import (
	"net/http"
	"testing"

	"wardsync/workflow"
)

func TestHTTPStatusBothWays(t *testing.T) {
	for _, c := range []struct {
		code   workflow.Code
		status int
		back   workflow.Code // what a bare answer of that status names
	}{
		{workflow.CodeUnauthenticated, http.StatusUnauthorized, workflow.CodeUnauthenticated},
		{workflow.CodeForbidden, http.StatusForbidden, workflow.CodeForbidden},
		{workflow.CodeNotFound, http.StatusNotFound, workflow.CodeNotFound},
		{workflow.CodeDuplicateID, http.StatusConflict, workflow.CodeDuplicateID},
		{workflow.CodeInvalidTransition, http.StatusConflict, workflow.CodeDuplicateID},
		{workflow.CodeRateLimited, http.StatusTooManyRequests, workflow.CodeRateLimited},
		{workflow.CodeInternal, http.StatusInternalServerError, workflow.CodeInternal},
		{workflow.CodeUnavailable, http.StatusServiceUnavailable, workflow.CodeUnavailable},
		{workflow.CodeValidationFailed, http.StatusBadRequest, workflow.CodeInternal},
	} {
		t.Run(string(c.code), func(t *testing.T) {
			if got := HTTPStatus(c.code); got != c.status {
				t.Errorf("HTTPStatus(%s) = %d, want %d", c.code, got, c.status)
			}
			if got := CodeOfHTTPStatus(c.status); got != c.back {
				t.Errorf("CodeOfHTTPStatus(%d) = %s, want %s", c.status, got, c.back)
			}
		})
	}
	for _, status := range []int{http.StatusBadGateway, http.StatusGatewayTimeout} {
		if got := CodeOfHTTPStatus(status); got != workflow.CodeUnavailable {
			t.Errorf("a proxy's %d names %s, want UNAVAILABLE", status, got)
		}
	}
}
