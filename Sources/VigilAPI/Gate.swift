import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import VigilCore
import VigilShell

/// Who is calling: a token's name and scopes.
struct Identity: Sendable {
    var name: String
    var scopes: Set<Scope>
}

/// Every request but `/healthz` passes here: a bearer token (or the worklist page's session
/// cookie) that the token file knows (401), the scope the endpoint needs (403), and the token's
/// rate (429, with Retry-After). The token file is re-read when it changes, so a revoked token
/// stops working at once without a restart.
final class Gate: Sendable {
    let tokensPath: String
    let ratePerMinute: Int
    private let state: NIOLockedValueBox<State>

    struct State {
        var tokens: TokenFile?
        var modified: timespec?
        /// Per token name: the start of its current minute and the requests in it.
        var windows: [String: (start: Int64, count: Int)] = [:]
    }

    init(tokensPath: String, ratePerMinute: Int) {
        self.tokensPath = tokensPath
        self.ratePerMinute = ratePerMinute
        self.state = NIOLockedValueBox(State())
    }

    /// The caller of `request`, allowed `scope`, within its rate; otherwise the refusal.
    func admit(_ request: Request, scope: Scope) throws -> Identity {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            let entry = try tokens().entry(for: String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        else { throw APIError.unauthorized() }
        return try authorize(entry, scope: scope)
    }

    /// The page's caller, signed in as the token whose hash is `sha256` (still in the file: a
    /// revoked token ends its sessions).
    func admit(tokenHash sha256: String, scope: Scope) throws -> Identity {
        guard let entry = try tokens().entries.first(where: { $0.sha256 == sha256 }) else {
            throw APIError.unauthorized()
        }
        return try authorize(entry, scope: scope)
    }

    /// The token file's entry for a presented token (the page's sign-in), or nil.
    func entry(for token: String) throws -> TokenFile.Entry? { try tokens().entry(for: token) }

    private func authorize(_ entry: TokenFile.Entry, scope: Scope) throws -> Identity {
        let identity = Identity(name: entry.name, scopes: Set(entry.scopes))
        guard identity.scopes.contains(scope) else {
            throw APIError(status: .forbidden, message: "token \(entry.name) lacks the \(scope.rawValue) scope")
        }
        try charge(identity.name)
        return identity
    }

    /// Counts a request against `name`'s rate: a fixed one-minute window per token.
    private func charge(_ name: String) throws {
        let minute = Int64(Date().timeIntervalSince1970) / 60
        let refused: Int64? = state.withLockedValue { state in
            var window = state.windows[name] ?? (minute, 0)
            if window.start != minute { window = (minute, 0) }
            window.count += 1
            state.windows[name] = window
            return window.count > ratePerMinute ? (minute + 1) * 60 - Int64(Date().timeIntervalSince1970) : nil
        }
        if let retry = refused {
            throw APIError(
                status: .tooManyRequests, message: "more than \(ratePerMinute) requests a minute for token \(name)",
                headers: [.retryAfter: "\(max(1, retry))"])
        }
    }

    /// The token file, re-read when its modification time changed.
    private func tokens() throws -> TokenFile {
        var info = stat()
        let modified = stat(tokensPath, &info) == 0 ? info.st_mtim : nil
        if let cached = state.withLockedValue({ state in
            state.modified?.tv_sec == modified?.tv_sec && state.modified?.tv_nsec == modified?.tv_nsec
                ? state.tokens : nil
        }) {
            return cached
        }
        do {
            let file = try TokenFile(path: tokensPath)
            state.withLockedValue { state in
                state.tokens = file
                state.modified = modified
            }
            return file
        } catch {
            throw APIError(status: .internalServerError, message: "the token file cannot be read")
        }
    }
}
