package http

// adminRoutes mounts the admin API and dashboard.
func (s *Server) adminRoutes() {}
