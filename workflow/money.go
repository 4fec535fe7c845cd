package workflow

import (
	"fmt"
	"strconv"
	"strings"
)

// Money is parsed from its decimal text, never through float64, so that
// "0.10" is ten cents exactly and a DECIMAL(10,2) receives what was typed.

// MaxBillingCents is the largest amount DECIMAL(10,2) holds: 99,999,999.99.
const MaxBillingCents = 9_999_999_999

type amountProblem int

const (
	amountOK amountProblem = iota
	amountSyntax
	amountTooPrecise
	amountNegative
	amountTooLarge
)

// parseCents reads "123", "123.4" or "123.45" (a leading minus is parsed
// so that the message can say "below 0.00" rather than "not an amount").
// Digits beyond the second decimal are accepted only when they are zeros:
// they change nothing, while any other digit would be rounded away by the
// database without anyone noticing.
func parseCents(s string) (int64, amountProblem) {
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(body, ".")
	if intPart == "" || (hasDot && frac == "") || !allDigits(intPart) || !allDigits(frac) {
		return 0, amountSyntax
	}
	if len(frac) > 2 {
		if strings.Trim(frac[2:], "0") != "" {
			return 0, amountTooPrecise
		}
		frac = frac[:2]
	}
	frac += strings.Repeat("0", 2-len(frac))
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > 8 {
		if neg {
			return 0, amountNegative
		}
		return 0, amountTooLarge
	}
	whole, _ := strconv.ParseInt("0"+intPart, 10, 64)
	cents, _ := strconv.ParseInt(frac, 10, 64)
	total := whole*100 + cents
	if neg && total != 0 {
		return 0, amountNegative
	}
	if total > MaxBillingCents {
		return 0, amountTooLarge
	}
	return total, amountOK
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func centsToDecimal(c int64) Decimal {
	return Decimal(fmt.Sprintf("%d.%02d", c/100, c%100))
}

// ParseDecimal parses a billing amount (0 to 99,999,999.99, at most two
// significant decimals) into its canonical two-decimal form.
func ParseDecimal(s string) (Decimal, error) {
	c, p := parseCents(s)
	if p != amountOK {
		return "", amountRejection("billingAmount", "Billing amount", s, p)
	}
	return centsToDecimal(c), nil
}

func amountRejection(field, label, s string, p amountProblem) *Rejection {
	switch p {
	case amountTooPrecise:
		return invalid(field, "%s %s has more than 2 decimals; the smallest unit is one cent (0.01).", label, clip(s))
	case amountNegative:
		return invalid(field, "%s %s is below 0.00.", label, clip(s))
	case amountTooLarge:
		return invalid(field, "%s %s is above 99,999,999.99.", label, clip(s))
	}
	return invalid(field, "%s %s is not an amount; write it with a dot and up to 2 decimals, such as \"120.50\".", label, quote(s))
}
