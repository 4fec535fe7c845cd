package workflow

// BillingStatuses lists every billing status in the seed's enum order.
var BillingStatuses = []BillingStatus{BillingPending, BillingPaid, BillingPartiallyPaid}

// Valid reports whether s is one of the seed's appointment statuses.
func (s AppointmentStatus) Valid() bool {
	for _, x := range AppointmentStatuses {
		if s == x {
			return true
		}
	}
	return false
}

// Valid reports whether s is one of the seed's prescription statuses.
func (s PrescriptionStatus) Valid() bool {
	for _, x := range PrescriptionStatuses {
		if s == x {
			return true
		}
	}
	return false
}

// Valid reports whether b is one of the seed's billing statuses.
func (b BillingStatus) Valid() bool {
	for _, x := range BillingStatuses {
		if b == x {
			return true
		}
	}
	return false
}

// billingRank orders billing statuses along the only direction money moves:
// a bill is paid off, never "un-paid" by a later act.
func billingRank(b BillingStatus) int {
	switch b {
	case BillingPending:
		return 0
	case BillingPartiallyPaid:
		return 1
	case BillingPaid:
		return 2
	}
	return -1
}
