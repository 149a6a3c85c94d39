import Foundation
import Glibc
import VigilCore
import VigilShell

/// A minimal HTTP/1.1 receiver on 127.0.0.1 for `vigil bench e2e`: answers every POST 200 at once
/// and records when each client's first delivery arrived. A benchmark fixture, not a server.
final class LoopbackReceiver: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var arrivals: [String: Int64] = [:]
    private var requests = 0

    init() throws(SystemError) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw SystemError("socket", path: "127.0.0.1") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw -> Bool in
                bind(listener, raw, length) == 0 && listen(listener, 128) == 0
                    && getsockname(listener, raw, &length) == 0
            }
        }
        guard listening else { throw SystemError("bind", path: "127.0.0.1") }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// When each client's first request arrived (CLOCK_REALTIME microseconds), and the request count.
    var snapshot: (arrivals: [String: Int64], requests: Int) { lock.withLock { (arrivals, requests) } }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            Thread.detachNewThread { [self] in serve(connection) }
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            // Headers, then a body of Content-Length bytes.
            var headerEnd: Int?
            while headerEnd == nil {
                headerEnd = Self.find([13, 10, 13, 10], in: buffer).map { $0 + 4 }
                if headerEnd != nil { break }
                let count = read(connection, &chunk, chunk.count)
                guard count > 0 else { return }
                buffer += chunk[0..<count]
            }
            guard let end = headerEnd else { return }
            let headers = String(decoding: buffer[0..<end], as: UTF8.self).lowercased()
            let length =
                headers.components(separatedBy: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            while buffer.count < end + length {
                let count = read(connection, &chunk, chunk.count)
                guard count > 0 else { return }
                buffer += chunk[0..<count]
            }
            record(buffer[end..<(end + length)])
            buffer.removeFirst(end + length)
            let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)
            guard write(connection, answer, answer.count) == answer.count else { return }
        }
    }

    private func record(_ body: ArraySlice<UInt8>) {
        let now = SystemClock().now().microseconds
        let text = String(decoding: body, as: UTF8.self)
        guard let start = text.range(of: "\"client\":\"")?.upperBound,
            let end = text[start...].firstIndex(of: "\"")
        else { return }
        let client = String(text[start..<end])
        lock.withLock {
            requests += 1
            if arrivals[client] == nil { arrivals[client] = now }
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index] == needle[0] {
            if Array(haystack[index..<(index + needle.count)]) == needle { return index }
        }
        return nil
    }
}
