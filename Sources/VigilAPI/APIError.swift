import Foundation
import HTTPTypes
import Hummingbird
import VigilShell

/// An API answer other than success, as JSON: `{"error": "...", "errors": [...]}` (`errors`: every
/// problem of an invalid check-in, each naming its field). Never carries a check-in's text.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String
    var errors: [String] = []
    var headers: HTTPFields = [:]

    struct Body: Encodable {
        var error: String
        var errors: [String]
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        let body = JSONOutput.data(Body(error: message, errors: errors))
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func unauthorized() -> APIError {
        APIError(
            status: .unauthorized, message: "a bearer token is required (Authorization: Bearer TOKEN)",
            headers: [.wwwAuthenticate: "Bearer realm=\"vigil\""])
    }
}

/// A JSON answer with the shell's one encoder (sorted keys).
struct JSONBody<Value: Encodable & Sendable>: ResponseGenerator {
    var status: HTTPResponse.Status = .ok
    let value: Value

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = JSONOutput.data(value)
        return Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
