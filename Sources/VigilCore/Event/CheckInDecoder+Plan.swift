/// Validation of a `plan` check-in's `plan` object (see `RecoveryPlan`): every problem is recorded,
/// each naming its field; the private texts are never quoted.
extension CheckInDecoder {
    /// The fields of a plan.
    static let planFields = [
        "triggers", "warning_signs", "support", "pathway", "caring_contacts", "coping", "crisis_steps",
    ]
    /// The most support entries a plan may list.
    static let maxSupportEntries = 32

    func plan(_ value: JSONValue, into problems: inout CheckInErrors) -> RecoveryPlan? {
        guard case .object(let members) = value else {
            problems.append(CheckInError(field: "plan", "must be an object, not \(value.typeDescription)"))
            return nil
        }
        let before = problems.count
        var plan = RecoveryPlan()
        var consent: RecoveryPlan.CaringConsent?
        for (key, member) in members {
            switch key {
            case "triggers":
                plan.triggers = codes(member, list: .stressors, field: "plan.triggers", into: &problems)
            case "warning_signs":
                plan.warningSigns = codes(member, list: .signs, field: "plan.warning_signs", into: &problems)
            case "support": plan.support = support(member, into: &problems)
            case "pathway": plan.pathways = pathways(member, into: &problems)
            case "caring_contacts":
                consent = problems.check { () throws(CheckInError) in try Self.caringConsent(member) }
            case "coping":
                plan.coping = problems.check { () throws(CheckInError) in
                    try Self.privateText(member, field: "plan.coping")
                }
            case "crisis_steps":
                plan.crisisSteps = problems.check { () throws(CheckInError) in
                    try Self.privateText(member, field: "plan.crisis_steps")
                }
            default:
                problems.append(
                    CheckInError(
                        field: "plan.\(Self.quoted(key))",
                        "unknown field (known: \(Self.planFields.joined(separator: ", ")))"))
            }
        }
        if let consent {
            plan.caringContacts = consent
        } else if !members.contains(where: { $0.key == "caring_contacts" }) {
            problems.append(
                CheckInError(
                    field: "plan.caring_contacts",
                    "required: {\"consent\": true|false, \"channel\": text|phone|letter|none}"))
        }
        return problems.count == before ? plan : nil
    }

    func support(_ value: JSONValue, into problems: inout CheckInErrors) -> [RecoveryPlan.SupportEntry] {
        guard case .array(let elements) = value else {
            problems.append(
                CheckInError(field: "plan.support", "must be an array of entries, not \(value.typeDescription)"))
            return []
        }
        guard elements.count <= Self.maxSupportEntries else {
            problems.append(
                CheckInError(field: "plan.support", "more than \(Self.maxSupportEntries) entries (\(elements.count))"))
            return []
        }
        return elements.enumerated().compactMap { index, element in
            problems.check { () throws(CheckInError) in try Self.supportEntry(element, field: "plan.support[\(index)]")
            }
        }
    }

    static func supportEntry(_ value: JSONValue, field: String) throws(CheckInError) -> RecoveryPlan.SupportEntry {
        guard case .object(let members) = value else {
            throw CheckInError(
                field: field, "must be an object {role, ref, channel, hours}, not \(value.typeDescription)")
        }
        var role: RecoveryPlan.SupportEntry.Role?
        var ref: String?
        var channel: RecoveryPlan.SupportEntry.Channel?
        var hours: HourRange?
        for (key, member) in members {
            switch key {
            case "role": role = try enumeration(member, field: "\(field).role")
            case "channel": channel = try enumeration(member, field: "\(field).channel")
            case "ref":
                guard case .string(let text) = member, isContactReference(text) else {
                    throw CheckInError(
                        field: "\(field).ref",
                        "must be a pseudonymous reference the team's directory resolves ([A-Za-z0-9._-]{1,64} with a "
                            + "letter; never a name or a number)")
                }
                ref = text
            case "hours":
                guard case .string(let text) = member, let range = HourRange(text: text) else {
                    throw CheckInError(field: "\(field).hours", "must be local hours HH:MM-HH:MM, e.g. 09:00-21:00")
                }
                hours = range
            default:
                throw CheckInError(field: "\(field).\(quoted(key))", "unknown field (known: role, ref, channel, hours)")
            }
        }
        guard let role else { throw CheckInError(field: "\(field).role", "required") }
        guard let ref else { throw CheckInError(field: "\(field).ref", "required") }
        guard let channel else { throw CheckInError(field: "\(field).channel", "required (phone, text, in_person)") }
        return RecoveryPlan.SupportEntry(role: role, ref: ref, channel: channel, hours: hours)
    }

    /// A client-id-shaped reference with at least one letter, so a phone number cannot pass for one.
    static func isContactReference(_ text: String) -> Bool {
        isClientID(text) && text.utf8.contains { (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
    }

    func pathways(_ value: JSONValue, into problems: inout CheckInErrors) -> [RecoveryPlan.Pathway] {
        guard case .array(let elements) = value, !elements.isEmpty else {
            problems.append(
                CheckInError(
                    field: "plan.pathway",
                    "must be a non-empty array of pathways (\(RecoveryPlan.Pathway.allCases.map(\.rawValue).joined(separator: ", ")))"
                ))
            return []
        }
        var result: [RecoveryPlan.Pathway] = []
        for (index, element) in elements.enumerated() {
            let pathway: RecoveryPlan.Pathway? = problems.check { () throws(CheckInError) in
                try Self.enumeration(element, field: "plan.pathway[\(index)]")
            }
            if let pathway, !result.contains(pathway) { result.append(pathway) }
        }
        return result
    }

    static func caringConsent(_ value: JSONValue) throws(CheckInError) -> RecoveryPlan.CaringConsent {
        guard case .object(let members) = value else {
            throw CheckInError(field: "plan.caring_contacts", "must be an object, not \(value.typeDescription)")
        }
        var consent: Bool?
        var channel: RecoveryPlan.CaringConsent.Channel?
        for (key, member) in members {
            switch key {
            case "consent":
                guard case .bool(let answer) = member else {
                    throw CheckInError(field: "plan.caring_contacts.consent", "must be true or false")
                }
                consent = answer
            case "channel": channel = try enumeration(member, field: "plan.caring_contacts.channel")
            default:
                throw CheckInError(
                    field: "plan.caring_contacts.\(quoted(key))", "unknown field (known: consent, channel)")
            }
        }
        guard let consent else { throw CheckInError(field: "plan.caring_contacts.consent", "required") }
        guard let channel else {
            throw CheckInError(field: "plan.caring_contacts.channel", "required (text, phone, letter, none)")
        }
        return RecoveryPlan.CaringConsent(consent: consent, channel: channel)
    }
}
