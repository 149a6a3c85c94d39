import Foundation
import HTTPTypes
import Hummingbird
import NIOConcurrencyHelpers
import VigilCore
import VigilShell

/// Signed-in sessions of the worklist page, in memory (a restart signs everyone out): a random id
/// in an HttpOnly, SameSite=Strict cookie, the token it was opened with (by hash: a revoked token
/// ends it), and the CSRF token every form of the session carries.
final class Sessions: Sendable {
    struct Session: Sendable {
        var tokenHash: String
        var csrf: String
        var expires: Date
    }

    static let cookie = "vigil_session"
    /// The sign-in form's double-submit cookie (before there is a session).
    static let signInCookie = "vigil_signin"
    static let lifetime: TimeInterval = 12 * 3600
    let secure: Bool
    private let sessions = NIOLockedValueBox<[String: Session]>([:])

    init(secure: Bool) { self.secure = secure }

    func open(tokenHash: String) -> (id: String, Session) {
        let session = Session(tokenHash: tokenHash, csrf: Self.random(), expires: Date() + Self.lifetime)
        let id = Self.random()
        sessions.withLockedValue { sessions in
            sessions = sessions.filter { $0.value.expires > Date() }
            sessions[id] = session
        }
        return (id, session)
    }

    func session(of request: Request) -> (id: String, Session)? {
        guard let id = request.cookies[Self.cookie]?.value else { return nil }
        return sessions.withLockedValue { sessions in
            guard let session = sessions[id], session.expires > Date() else { return nil }
            return (id, session)
        }
    }

    func close(_ id: String) { sessions.withLockedValue { _ = $0.removeValue(forKey: id) } }

    /// A `Set-Cookie` value for `name`: HttpOnly, SameSite=Strict, Secure under TLS.
    func cookie(_ name: String, _ value: String, maxAge: Int) -> String {
        "\(name)=\(value); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)" + (secure ? "; Secure" : "")
    }

    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}

/// The team's worklist page: sign in with a token, see open tasks (overdue in red, who took what,
/// due in local time), a client's page, and take / acknowledge / record a contact. Every change is
/// the same event the API hands over; every form carries the session's CSRF token.
enum WorklistPage {
    static func add(to router: Router<BasicRequestContext>, door: FrontDoor, sessions: Sessions) {
        router.get("/") { request, context in
            // No session, or one whose token was revoked since: to the sign-in.
            guard let (_, session) = sessions.session(of: request) else { return Response.redirect(to: "/signin") }
            let identity: Identity
            do {
                identity = try door.gate.admit(tokenHash: session.tokenHash, scope: .read)
            } catch let error as APIError where error.status == .unauthorized {
                return Response.redirect(to: "/signin")
            }
            let now = door.clock.now()
            let tasks = try await door.read { store throws(StoreError) in try store.worklist(WorklistFilter(), at: now)
            }
            return try worklist(tasks, identity: identity, csrf: session.csrf, now: now)
                .response(from: request, context: context)
        }
        router.get("/signin") { _, _ in
            let value = Sessions.random()
            return signIn(csrf: value, error: nil, cookie: sessions.cookie(Sessions.signInCookie, value, maxAge: 600))
        }
        router.post("/signin") { request, _ in
            let form = try await formBody(SignInForm.self, from: request)
            guard let expected = request.cookies[Sessions.signInCookie]?.value, form.csrf == expected else {
                throw APIError(status: .forbidden, message: "the sign-in form has expired: reload it")
            }
            guard let entry = try door.gate.entry(for: form.token.trimmingCharacters(in: .whitespacesAndNewlines)),
                entry.scopes.contains(.read)
            else {
                let value = Sessions.random()
                return signIn(
                    csrf: value, error: "That token is not valid for the worklist.",
                    cookie: sessions.cookie(Sessions.signInCookie, value, maxAge: 600), status: .unauthorized)
            }
            let (id, _) = sessions.open(tokenHash: entry.sha256)
            var headers: HTTPFields = [.location: "/"]
            headers.append(
                HTTPField(name: .setCookie, value: sessions.cookie(Sessions.cookie, id, maxAge: Int(Sessions.lifetime)))
            )
            headers.append(HTTPField(name: .setCookie, value: sessions.cookie(Sessions.signInCookie, "", maxAge: 0)))
            return HTMLPage(
                status: .seeOther, title: "Signed in", body: "<p><a href=\"/\">Continue</a></p>", headers: headers)
        }
        router.post("/signout") { request, _ in
            let (id, _) = try checked(
                request, form: try await formBody(ActionForm.self, from: request), sessions: sessions)
            sessions.close(id)
            return HTMLPage(
                status: .seeOther, title: "Signed out", body: "<p><a href=\"/signin\">Sign in</a></p>",
                headers: [.location: "/signin", .setCookie: sessions.cookie(Sessions.cookie, "", maxAge: 0)])
        }
        router.get("/clients/:id") { request, context in
            guard let (_, session) = sessions.session(of: request) else { return Response.redirect(to: "/signin") }
            _ = try door.gate.admit(tokenHash: session.tokenHash, scope: .read)
            let id = try context.parameters.require("id")
            let now = door.clock.now()
            guard
                let report = try await door.read({ store throws(StoreError) in
                    try store.clientReport(client: id, at: now)
                })
            else { throw APIError(status: .notFound, message: "no client \(id)") }
            let tasks = try await door.read { store throws(StoreError) in
                try store.worklist(WorklistFilter(client: id), at: now)
            }
            return try client(report, tasks: tasks, csrf: session.csrf, now: now)
                .response(from: request, context: context)
        }
        router.post("/tasks/:id/:action") { request, context in
            let form = try await formBody(ActionForm.self, from: request)
            let (_, session) = try checked(request, form: form, sessions: sessions)
            let identity = try door.gate.admit(tokenHash: session.tokenHash, scope: .act)
            let task = try context.parameters.require("id")
            let name = try context.parameters.require("action")
            let action: TaskActionRequest
            switch name {
            case "take": action = .take
            case "ack": action = .ack
            case "contact":
                guard let outcome = form.outcome.flatMap(CheckIn.Contact.Outcome.init(rawValue:)) else {
                    throw APIError(status: .unprocessableContent, message: "choose the contact's outcome")
                }
                action = .contact(outcome)
            default: throw APIError(status: .notFound, message: "no action \(name)")
            }
            _ = try await door.act(action, on: task, by: identity.name)
            let back = localPath(form.back)
            return HTMLPage(
                status: .seeOther, title: "Recorded", body: "<p><a href=\"\(escape(back))\">Back</a></p>",
                headers: [.location: back])
        }
    }

    /// Where a form goes back to: one of this site's own pages only, a path of plain characters (no
    /// `//` or `/\\`, which browsers read as another host); else the worklist.
    static func localPath(_ text: String?) -> String {
        guard let path = text, path.hasPrefix("/"), !path.hasPrefix("//"),
            path.utf8.allSatisfy({ byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || [UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: ".")].contains(byte)
            })
        else { return "/" }
        return path
    }

    struct SignInForm: Decodable {
        var token: String
        var csrf: String
    }

    struct ActionForm: Decodable {
        var csrf: String?
        var outcome: String?
        var back: String?
    }

    /// The session of a form's request, if its CSRF token is the session's (403 otherwise).
    static func checked(_ request: Request, form: ActionForm, sessions: Sessions) throws -> (String, Sessions.Session) {
        guard let (id, session) = sessions.session(of: request) else { throw APIError.unauthorized() }
        guard let csrf = form.csrf, csrf == session.csrf else {
            throw APIError(status: .forbidden, message: "the form's CSRF token is missing or wrong: reload the page")
        }
        return (id, session)
    }

    static func formBody<Form: Decodable>(_ type: Form.Type, from request: Request) async throws -> Form {
        let bytes = try await APIRoutes.body(of: request, upTo: FrontDoor.smallBody)
        do {
            return try URLEncodedFormDecoder().decode(type, from: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw APIError(status: .badRequest, message: "the form is incomplete")
        }
    }

    // MARK: - Pages

    static func signIn(csrf: String, error: String?, cookie: String, status: HTTPResponse.Status = .ok) -> HTMLPage {
        HTMLPage(
            status: status, title: "Sign in",
            body: """
                <h1>Sign in</h1>
                \(error.map { "<p class=\"error\">\(escape($0))</p>" } ?? "")
                <form method="post" action="/signin">
                <input type="hidden" name="csrf" value="\(escape(csrf))">
                <label for="token">Your Vigil token</label><br>
                <input id="token" name="token" type="password" autocomplete="off" size="48" required>
                <button type="submit">Sign in</button>
                </form>
                """,
            headers: [.setCookie: cookie])
    }

    static func worklist(_ tasks: [WorklistEntry], identity: Identity, csrf: String, now: Timestamp) -> HTMLPage {
        let rows = tasks.map { task in
            """
            <tr class="\(task.overdue ? "overdue" : "")" id="task-\(escape(task.task))">
            <td data-label="Due">\(escape(localTime(task.due)))\(task.overdue ? " (overdue)" : "")</td>
            <td data-label="Client"><a href="/clients/\(escape(task.client))">\(escape(task.client))</a></td>
            <td data-label="Task" class="tier-\(escape(task.tier))">\(escape(task.kind)) · \(escape(task.tier)) · \(escape(task.route))</td>
            <td data-label="Taken by">\(escape(task.takenBy ?? "nobody yet"))</td>
            <td data-label="Act">\(buttons(task, csrf: csrf, back: "/"))</td>
            </tr>
            """
        }
        return HTMLPage(
            title: "Worklist",
            body: """
                <p>Signed in as <strong>\(escape(identity.name))</strong>. \(tasks.count) open tasks, overdue first; times in \(escape(TimeZone.current.identifier)).</p>
                <form class="inline" method="post" action="/signout"><input type="hidden" name="csrf" value="\(escape(csrf))"><button type="submit">Sign out</button></form>
                <h1>Worklist</h1>
                <table><thead><tr><th>Due</th><th>Client</th><th>Task</th><th>Taken by</th><th>Act</th></tr></thead>
                <tbody>\(rows.joined(separator: "\n"))</tbody></table>
                """)
    }

    static func client(_ report: ClientReport, tasks: [WorklistEntry], csrf: String, now: Timestamp) -> HTMLPage {
        let domains = report.domains.map {
            "<li>\(escape($0.domain)): \(escape($0.tier)) (\(String(format: "%.1f", $0.score)))</li>"
        }
        let firings = report.firings.map {
            "<li><code>\(escape($0.rule))</code> \(escape($0.summary)) · \(escape(localTime($0.at)))</li>"
        }
        let events = report.events.map {
            "<li>\(escape(localTime($0.at))) · \(escape($0.kind)) from \(escape($0.source))\($0.fired.isEmpty ? "" : ": fired " + escape($0.fired.joined(separator: ", ")))</li>"
        }
        let open = tasks.map { task in
            """
            <li class="\(task.overdue ? "overdue" : "")">\(escape(task.kind)) · \(escape(task.tier)) · due \(escape(localTime(task.due)))\(task.overdue ? " (overdue)" : "") · taken by \(escape(task.takenBy ?? "nobody yet"))<br>\(escape(task.instruction))<br>\(buttons(task, csrf: csrf, back: "/clients/" + report.client))</li>
            """
        }
        var plan = "<p>No recovery plan on record.</p>"
        if let summary = report.plan {
            plan = """
                <p>Plan of \(escape(localTime(summary.at))) (\(summary.ageDays) days old). Pathway: \(escape(summary.pathway.joined(separator: ", "))).
                Warning signs: \(escape(summary.warningSigns.joined(separator: ", "))). Triggers: \(escape(summary.triggers.joined(separator: ", "))).
                Support: \(escape(summary.support.map { "\($0.role) \($0.ref) (\($0.channel))" }.joined(separator: ", "))).</p>
                """
        }
        return HTMLPage(
            title: "Client \(report.client)",
            body: """
                <p><a href="/">← Worklist</a></p>
                <h1>Client \(escape(report.client))</h1>
                <p class="tier-\(escape(report.tier))">Tier <strong>\(escape(report.tier))</strong>, score \(String(format: "%.1f", report.score))\(report.heldUntil.map { " (held until " + escape(localTime($0)) + ")" } ?? "")</p>
                <h2>Domains</h2><ul>\(domains.joined())</ul>
                <h2>Open tasks</h2><ul>\(open.isEmpty ? "<li>none</li>" : open.joined())</ul>
                <h2>Why: the firings that count</h2><ul>\(firings.isEmpty ? "<li>none</li>" : firings.joined())</ul>
                <h2>Recent events</h2><ul>\(events.joined())</ul>
                <h2>Recovery plan</h2>\(plan)
                """)
    }

    /// Take, acknowledge and record-a-contact forms for one task.
    static func buttons(_ task: WorklistEntry, csrf: String, back: String) -> String {
        let hidden = """
            <input type="hidden" name="csrf" value="\(escape(csrf))"><input type="hidden" name="back" value="\(escape(back))">
            """
        let base = "/tasks/\(escape(task.task))"
        let outcomes = CheckIn.Contact.Outcome.allCases.map {
            "<option value=\"\($0.rawValue)\">\($0.rawValue.replacingOccurrences(of: "_", with: " "))</option>"
        }
        return """
            <form class="inline" method="post" action="\(base)/take">\(hidden)<button type="submit" name="do" value="take">Take</button></form>
            <form class="inline" method="post" action="\(base)/ack">\(hidden)<button type="submit" name="do" value="ack">Acknowledge</button></form>
            <form class="inline" method="post" action="\(base)/contact">\(hidden)<select name="outcome" aria-label="Contact outcome">\(outcomes.joined())</select><button type="submit" name="do" value="contact">Record contact</button></form>
            """
    }

    /// An RFC 3339 time in the server's time zone (the team's), `2026-12-03 14:05`.
    static func localTime(_ text: String) -> String {
        guard let time = try? RFC3339.parse(text) else { return text }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        formatter.timeZone = TimeZone.current
        return formatter.string(from: Date(timeIntervalSince1970: Double(time.microseconds) / 1_000_000))
    }
}

extension Response {
    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }
}
