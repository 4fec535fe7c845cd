package workflow

import (
	"encoding/json"
	"strconv"
)

// VitalsData is the seed's VitalsData, as stored in appointments.vitals.
// Optional measures are omitted, not null, when not taken.
type VitalsData struct {
	Weight           float64       `json:"weight"`
	Height           float64       `json:"height"`
	Temperature      float64       `json:"temperature"`
	BloodPressure    BloodPressure `json:"bloodPressure"`
	HeartRate        float64       `json:"heartRate"`
	RespiratoryRate  *float64      `json:"respiratoryRate,omitempty"`
	OxygenSaturation *float64      `json:"oxygenSaturation,omitempty"`
}

// BloodPressure is VitalsData.bloodPressure, in mmHg.
type BloodPressure struct {
	Systolic  float64 `json:"systolic"`
	Diastolic float64 `json:"diastolic"`
}

// VitalRange is the accepted range of one measure. Bounds are inclusive
// unless MinExclusive says the minimum itself is refused.
type VitalRange struct {
	Field        string // JSON path under the arguments, e.g. "vitals.temperature"
	Label        string
	Unit         string
	Min, Max     float64
	MinExclusive bool
	Required     bool
}

// VitalRanges are the seed's ranges. The seed only says weight > 0 and
// height > 0; the caps (500 kg, 300 cm) are ours, above any recorded human,
// so that a slip of the keyboard (75.5 typed as 755) is caught at the ward
// instead of reaching the doctor as a fact.
var VitalRanges = []VitalRange{
	{Field: "vitals.weight", Label: "Weight", Unit: "kg", Min: 0, Max: 500, MinExclusive: true, Required: true},
	{Field: "vitals.height", Label: "Height", Unit: "cm", Min: 0, Max: 300, MinExclusive: true, Required: true},
	{Field: "vitals.temperature", Label: "Temperature", Unit: "°C", Min: 30, Max: 45, Required: true},
	{Field: "vitals.bloodPressure.systolic", Label: "Systolic blood pressure", Unit: "mmHg", Min: 50, Max: 250, Required: true},
	{Field: "vitals.bloodPressure.diastolic", Label: "Diastolic blood pressure", Unit: "mmHg", Min: 30, Max: 150, Required: true},
	{Field: "vitals.heartRate", Label: "Heart rate", Unit: "bpm", Min: 30, Max: 220, Required: true},
	{Field: "vitals.respiratoryRate", Label: "Respiratory rate", Unit: "breaths/min", Min: 5, Max: 60},
	{Field: "vitals.oxygenSaturation", Label: "Oxygen saturation", Unit: "%", Min: 70, Max: 100},
}

func vitalRange(field string) VitalRange {
	for _, r := range VitalRanges {
		if r.Field == field {
			return r
		}
	}
	panic("workflow: no vital range for " + field)
}

var (
	vitalsKeys        = []string{"weight", "height", "temperature", "bloodPressure", "heartRate", "respiratoryRate", "oxygenSaturation"}
	bloodPressureKeys = []string{"systolic", "diastolic"}
)

// measure reads one number of the vitals and checks it against its range.
// The message names the value as typed and the bound it crosses.
func measure(o *obj, name string, field string) (float64, bool) {
	rg := vitalRange(field)
	v, lit, p := o.number(name, rg.Label, rg.Required)
	if p != given {
		return 0, false
	}
	lit = clip(lit)
	switch {
	case rg.MinExclusive && v <= rg.Min:
		o.fail(invalid(field, "%s", say("aboveExclusiveMin", "label", rg.Label, "value", lit, "unit", rg.Unit, "bound", num(rg.Min))))
	case v < rg.Min:
		o.fail(invalid(field, "%s", say("belowMin", "label", rg.Label, "value", lit, "unit", rg.Unit, "bound", num(rg.Min))))
	case v > rg.Max:
		o.fail(invalid(field, "%s", say("aboveMax", "label", rg.Label, "value", lit, "unit", rg.Unit, "bound", num(rg.Max))))
	default:
		return v, true
	}
	return 0, false
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// readVitals decodes and checks the vitals argument and returns it
// re-encoded in the seed's field order, so both sides store the same bytes.
func readVitals(o *obj) json.RawMessage {
	v, p := o.object("vitals", "Vitals", vitalsKeys, true)
	if p != given {
		return nil
	}
	var d VitalsData
	d.Weight, _ = measure(v, "weight", "vitals.weight")
	d.Height, _ = measure(v, "height", "vitals.height")
	d.Temperature, _ = measure(v, "temperature", "vitals.temperature")
	if bp, p := v.object("bloodPressure", "Blood pressure", bloodPressureKeys, true); p == given {
		d.BloodPressure.Systolic, _ = measure(bp, "systolic", "vitals.bloodPressure.systolic")
		d.BloodPressure.Diastolic, _ = measure(bp, "diastolic", "vitals.bloodPressure.diastolic")
		v.fail(bp.err)
		// Diastolic at or above systolic is not a pressure anyone has; it
		// is the two numbers typed in the wrong boxes.
		if bp.err == nil && d.BloodPressure.Diastolic >= d.BloodPressure.Systolic {
			v.fail(invalid("vitals.bloodPressure.diastolic", "%s", say("diastolicNotBelowSystolic",
				"value", num(d.BloodPressure.Diastolic), "bound", num(d.BloodPressure.Systolic))))
		}
	}
	d.HeartRate, _ = measure(v, "heartRate", "vitals.heartRate")
	if x, ok := measure(v, "respiratoryRate", "vitals.respiratoryRate"); ok {
		d.RespiratoryRate = &x
	}
	if x, ok := measure(v, "oxygenSaturation", "vitals.oxygenSaturation"); ok {
		d.OxygenSaturation = &x
	}
	if v.err != nil {
		o.fail(v.err)
		return nil
	}
	b, err := json.Marshal(d)
	if err != nil { // only NaN/Inf fail, and the ranges exclude them
		o.fail(invalid("vitals", "Vitals could not be stored (%v).", err))
		return nil
	}
	return b
}

// VitalNormal is the usual adult range of one measure. A value outside it
// is accepted (VitalRanges decide that) but flagged in the queues, so
// that a 38.4 °C fever stands out in the doctor's list.
type VitalNormal struct {
	Field   string // as in VitalRanges
	Low     float64
	High    float64
	HasLow  bool
	HasHigh bool
	Label   string
	Unit    string
}

// VitalNormals are the usual adult ranges (resting). Weight and height
// have none: they are not signs of illness on their own.
var VitalNormals = []VitalNormal{
	{Field: "vitals.temperature", Label: "Temperature", Unit: "°C", Low: 36, High: 37.5, HasLow: true, HasHigh: true},
	{Field: "vitals.bloodPressure.systolic", Label: "Systolic blood pressure", Unit: "mmHg", Low: 90, High: 140, HasLow: true, HasHigh: true},
	{Field: "vitals.bloodPressure.diastolic", Label: "Diastolic blood pressure", Unit: "mmHg", Low: 60, High: 90, HasLow: true, HasHigh: true},
	{Field: "vitals.heartRate", Label: "Heart rate", Unit: "bpm", Low: 50, High: 100, HasLow: true, HasHigh: true},
	{Field: "vitals.respiratoryRate", Label: "Respiratory rate", Unit: "breaths/min", Low: 12, High: 20, HasLow: true, HasHigh: true},
	{Field: "vitals.oxygenSaturation", Label: "Oxygen saturation", Unit: "%", Low: 94, HasLow: true},
}

// AbnormalVitals says, one sentence per measure, which vitals lie outside
// their usual range ("Temperature 38.4 °C is above the usual 37.5 °C.");
// none for normal vitals.
func AbnormalVitals(v VitalsData) []string {
	values := map[string]*float64{
		"vitals.temperature":             &v.Temperature,
		"vitals.bloodPressure.systolic":  &v.BloodPressure.Systolic,
		"vitals.bloodPressure.diastolic": &v.BloodPressure.Diastolic,
		"vitals.heartRate":               &v.HeartRate,
		"vitals.respiratoryRate":         v.RespiratoryRate,
		"vitals.oxygenSaturation":        v.OxygenSaturation,
	}
	var out []string
	for _, n := range VitalNormals {
		x := values[n.Field]
		switch {
		case x == nil:
		case n.HasHigh && *x > n.High:
			out = append(out, n.Label+" "+num(*x)+" "+n.Unit+" is above the usual "+num(n.High)+" "+n.Unit+".")
		case n.HasLow && *x < n.Low:
			out = append(out, n.Label+" "+num(*x)+" "+n.Unit+" is below the usual "+num(n.Low)+" "+n.Unit+".")
		}
	}
	return out
}
