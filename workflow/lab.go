package workflow

func init() {
	register(&act{
		name:    "prescription.create",
		creates: true,
		to:      string(PrescriptionCreated),
		roles:   []Role{RoleDoctor},
		does:    "write a prescription",
		table:   TablePrescriptions,
		args:    []string{"id", "patientId", "doctorId", "text"},
		run:     createPrescription,
	})
	register(&act{
		name:  "prescription.sendToLab",
		to:    string(PrescriptionSentToLab),
		roles: []Role{RoleDoctor},
		does:  "send a prescription to the lab",
		table: TablePrescriptions,
		args:  []string{"id"},
		run:   prescriptionStep(PrescriptionCreated, PrescriptionSentToLab, nil),
		path: rxPath(rx(PrescriptionCreated), nil, "",
			rx(PrescriptionSentToLab, PrescriptionSampleCollected, PrescriptionInProgress, PrescriptionResultsAvailable, PrescriptionCompleted)),
	})
	register(&act{
		name:  "prescription.collectSample",
		to:    string(PrescriptionSampleCollected),
		roles: []Role{RoleNurse},
		does:  "collect a sample",
		table: TablePrescriptions,
		args:  []string{"id"},
		run: prescriptionStep(PrescriptionSentToLab, PrescriptionSampleCollected, func(e *env, v map[string]any) {
			v["nurseId"] = e.actor.ID
			v["sampleCollectedAt"] = e.at
		}),
		path: rxPath(rx(PrescriptionSentToLab), rx(PrescriptionCreated), "the doctor to send the prescription to the lab",
			rx(PrescriptionSampleCollected, PrescriptionInProgress, PrescriptionResultsAvailable, PrescriptionCompleted)),
	})
	register(&act{
		name:  "prescription.startAnalysis",
		to:    string(PrescriptionInProgress),
		roles: []Role{RoleBiologist},
		does:  "start an analysis",
		table: TablePrescriptions,
		args:  []string{"id"},
		run: prescriptionStep(PrescriptionSampleCollected, PrescriptionInProgress, func(e *env, v map[string]any) {
			v["analysisStartedAt"] = e.at
		}),
		path: rxPath(rx(PrescriptionSampleCollected), rx(PrescriptionCreated, PrescriptionSentToLab), "the nurse to collect the sample",
			rx(PrescriptionInProgress, PrescriptionResultsAvailable, PrescriptionCompleted)),
	})
	register(&act{
		name:    "result.create",
		creates: true,
		to:      string(PrescriptionResultsAvailable),
		roles:   []Role{RoleBiologist},
		does:    "enter a lab result",
		table:   TableResults,
		args:    []string{"id", "prescriptionId", "text", "data"},
		run:     createResult,
		path: rxPath(rx(PrescriptionInProgress), rx(PrescriptionCreated, PrescriptionSentToLab, PrescriptionSampleCollected), "the analysis to start in the lab",
			rx(PrescriptionResultsAvailable, PrescriptionCompleted)),
	})
	register(&act{
		name:  "result.review",
		to:    string(PrescriptionCompleted),
		roles: []Role{RoleDoctor},
		does:  "review a lab result",
		table: TableResults,
		args:  []string{"id", "interpretation"},
		run:   reviewResult,
		path: rxPath(rx(PrescriptionResultsAvailable), nil, "",
			rx(PrescriptionCreated, PrescriptionSentToLab, PrescriptionSampleCollected, PrescriptionInProgress, PrescriptionCompleted)),
	})
	register(&act{
		name:    "document.attach",
		creates: true,
		roles:   []Role{RoleSecretary, RoleNurse, RoleDoctor, RoleBiologist},
		does:    "attach a document",
		table:   TableDocuments,
		args:    []string{"id", "patientId", "name", "type", "url"},
		run:     attachDocument,
	})
}

// rx lists prescription states in a path declaration.
func rx(s ...PrescriptionStatus) []PrescriptionStatus { return s }

func rxPath(want, waits []PrescriptionStatus, sentence string, never []PrescriptionStatus) *path {
	return &path{table: TablePrescriptions, want: strs(want), waits: strs(waits), sentence: sentence, never: strs(never)}
}

func createPrescription(e *env, o *obj) (Effect, error) {
	id := o.id("id", "The prescription id")
	patientID := o.id("patientId", "The patient id")
	var doctorID string
	if o.has("doctorId") {
		doctorID = o.id("doctorId", "The doctor id")
	}
	text, _ := o.textOf("text", "prescriptionText", true)
	if o.err != nil {
		return Effect{}, o.err
	}
	// A prescription is signed by whoever writes it; accepting another
	// doctor's id would let one doctor prescribe in a colleague's name.
	if doctorID != "" && doctorID != e.actor.ID {
		r := Reject(CodeForbidden, "A DOCTOR can only write prescriptions in their own name; doctorId must be your own id or left out.")
		r.Field = "doctorId"
		return Effect{}, r
	}
	if err := newOfPatient(e, e.r.Prescription, "prescription", id, patientID); err != nil {
		return Effect{}, err
	}
	return effect(e.insert(TablePrescriptions, id, map[string]any{
		"text":      text,
		"status":    string(PrescriptionCreated),
		"patientId": patientID,
		"doctorId":  e.actor.ID,
	})), nil
}

// prescriptionStep builds the mutators that move a prescription one step
// along the lab workflow, stamping what set adds.
func prescriptionStep(from, to PrescriptionStatus, set func(e *env, v map[string]any)) func(e *env, o *obj) (Effect, error) {
	return func(e *env, o *obj) (Effect, error) {
		id := o.id("id", "The prescription id")
		if o.err != nil {
			return Effect{}, o.err
		}
		p, err := load(e, e.r.Prescription, "prescription", id, "id")
		if err != nil {
			return Effect{}, err
		}
		if p.Status != from {
			return Effect{}, e.prescriptionNotIn(p, from)
		}
		values := map[string]any{"status": string(to)}
		if set != nil {
			set(e, values)
		}
		return effect(e.update(TablePrescriptions, id, values)), nil
	}
}

func createResult(e *env, o *obj) (Effect, error) {
	id := o.id("id", "The result id")
	prescriptionID := o.id("prescriptionId", "The prescription id")
	text, _ := o.textOf("text", "resultText", true)
	data, dataP := o.jsonValue("data", "Result data", false)
	if dataP == given {
		if r := CheckLabValues("data", data); r != nil {
			o.fail(r)
		}
	}
	if o.err != nil {
		return Effect{}, o.err
	}
	if err := mustBeNew(e, e.r.Result, "result", id); err != nil {
		return Effect{}, err
	}
	p, err := load(e, e.r.Prescription, "prescription", prescriptionID, "prescriptionId")
	if err != nil {
		return Effect{}, err
	}
	if p.Status != PrescriptionInProgress {
		return Effect{}, e.prescriptionNotIn(p, PrescriptionInProgress)
	}
	// The seed's unique key allows one result per prescription; saying so
	// here beats a constraint violation on the server.
	switch existing, err := e.r.ResultByPrescription(e.ctx, prescriptionID); {
	case err == nil && existing != nil:
		return Effect{}, Reject(CodeInvalidTransition, "Prescription %s already has a result (%s); a prescription has only one.", prescriptionID, existing.ID)
	case err != nil && !isNotFound(err):
		return Effect{}, wrapRead("result of prescription", prescriptionID, err)
	}
	values := map[string]any{
		"prescriptionId": prescriptionID,
		"text":           text,
		"validatedBy":    e.actor.ID,
		"validatedAt":    e.at,
	}
	if dataP == given {
		values["data"] = data
	}
	return effect(
		e.insert(TableResults, id, values),
		e.update(TablePrescriptions, prescriptionID, map[string]any{
			"status":              string(PrescriptionResultsAvailable),
			"analysisCompletedAt": e.at,
		}),
	), nil
}

func reviewResult(e *env, o *obj) (Effect, error) {
	id := o.id("id", "The result id")
	interp, interpP := o.textOf("interpretation", "interpretation", false)
	if o.err != nil {
		return Effect{}, o.err
	}
	res, err := load(e, e.r.Result, "result", id, "id")
	if err != nil {
		return Effect{}, err
	}
	p, err := load(e, e.r.Prescription, "prescription", res.PrescriptionID, "")
	if err != nil {
		return Effect{}, err
	}
	if p.Status != PrescriptionResultsAvailable {
		return Effect{}, e.prescriptionNotIn(p, PrescriptionResultsAvailable)
	}
	values := map[string]any{
		"reviewedBy": e.actor.ID,
		"reviewedAt": e.at,
	}
	switch interpP {
	case given:
		values["interpretation"] = interp
	case null:
		values["interpretation"] = nil
	}
	return effect(
		e.update(TableResults, id, values),
		e.update(TablePrescriptions, p.ID, map[string]any{
			"status": string(PrescriptionCompleted),
		}),
	), nil
}

func attachDocument(e *env, o *obj) (Effect, error) {
	id := o.id("id", "The document id")
	patientID := o.id("patientId", "The patient id")
	name, _ := o.textOf("name", "documentName", true)
	typ, _ := o.textOf("type", "documentType", true)
	url, _ := o.textOf("url", "documentUrl", true)
	if o.err != nil {
		return Effect{}, o.err
	}
	if err := newOfPatient(e, e.r.Document, "document", id, patientID); err != nil {
		return Effect{}, err
	}
	return effect(e.insert(TableDocuments, id, map[string]any{
		"name":       name,
		"type":       typ,
		"url":        url,
		"uploadedBy": e.actor.ID,
		"patientId":  patientID,
	})), nil
}
