package syncproto

import (
	"net/http"

	"wardsync/workflow"
)

// httpStatuses is the one table between the rejection codes and the HTTP
// statuses of the server's requests, read both ways: the server answers a
// refusal with its code's status, and the workstation, handed a status
// without a {code, message} body (a proxy's error page), names the code
// back from it. A code not listed is the caller's mistake in what it sent:
// 400.
var httpStatuses = []struct {
	code   workflow.Code
	status int
}{
	{workflow.CodeUnauthenticated, http.StatusUnauthorized},
	{workflow.CodeForbidden, http.StatusForbidden},
	{workflow.CodeNotFound, http.StatusNotFound},
	{workflow.CodeDuplicateID, http.StatusConflict},
	{workflow.CodeInvalidTransition, http.StatusConflict},
	{workflow.CodeRateLimited, http.StatusTooManyRequests},
	{workflow.CodeInternal, http.StatusInternalServerError},
	{workflow.CodeUnavailable, http.StatusServiceUnavailable},
	// What a proxy in front of the server answers when the server is down
	// or too slow: unreachable, as the server's own 503 says.
	{workflow.CodeUnavailable, http.StatusBadGateway},
	{workflow.CodeUnavailable, http.StatusGatewayTimeout},
}

// HTTPStatus is the status a request refused with code c is answered with.
func HTTPStatus(c workflow.Code) int {
	for _, s := range httpStatuses {
		if s.code == c {
			return s.status
		}
	}
	return http.StatusBadRequest
}

// CodeOfHTTPStatus names the code of an answer that carried only its
// status: the first code the table gives that status, INTERNAL for a
// status it does not know.
func CodeOfHTTPStatus(status int) workflow.Code {
	for _, s := range httpStatuses {
		if s.status == status {
			return s.code
		}
	}
	return workflow.CodeInternal
}
