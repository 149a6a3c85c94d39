import Foundation
import Glibc

/// Refuses, before anything starts, a deployment that a spool writer or another local user could
/// subvert (in the spirit of OpenSSH's `StrictModes`): directories nested so that the daemon would
/// take its own store or rules for check-ins, and configuration, rules or commands that someone
/// other than their owner (or root) may rewrite.
public enum DeploymentCheck {
    /// What `vigil serve` needs: the spool, the state and the rules apart from one another, and the
    /// configuration file, the rules directory and every rule file writable only by their owner
    /// (or a root group), and owned by root or this user.
    public static func daemon(_ config: VigilConfig) throws(DeploymentError) {
        let spool = resolved(config.spool)
        let state = resolved(config.state)
        let rules = resolved(config.rules)
        for (inner, innerName, outer, outerName) in [
            (state, "state", spool, "spool"), (spool, "spool", state, "state"), (rules, "rules", spool, "spool"),
            (spool, "spool", rules, "rules"), (rules, "rules", state, "state"), (state, "state", rules, "rules"),
        ] where contains(outer, inner) {
            let relation = inner == outer ? "is the same directory as" : "is inside"
            throw DeploymentError(
                paths: [inner, outer], exitStatus: .config,
                problem:
                    "the \(innerName) directory (\(inner)) \(relation) the \(outerName) directory (\(outer)): "
                    + "the daemon could take its own files for input or lose them; give each its own directory")
        }
        if config.origin != VigilConfig.embeddedOrigin {
            try requirePrivate(config.origin, what: "the configuration file")
            try requirePrivate(parent(of: config.origin), what: "the configuration file's directory")
        }
        try requirePrivate(config.rules, what: "the rules directory")
        try requirePrivate(parent(of: config.rules), what: "the rules directory's parent")
        for file in ruleFiles(in: config.rules) { try requirePrivate(file, what: "a rule file") }
    }

    /// What `vigil notify` needs: every exec channel's command, and the directory it is in (and
    /// so every absolute path among its arguments that is a file, such as an interpreter's
    /// script), writable only by their owner (or a root group) and owned by root or this user.
    public static func notifier(_ config: NotifierConfig, origin: String) throws(DeploymentError) {
        if origin != VigilConfig.embeddedOrigin { try requirePrivate(origin, what: "the configuration file") }
        for (name, channel) in config.channels.sorted(by: { $0.key < $1.key }) {
            guard case .exec(let command, _, _) = channel else { continue }
            for (position, path) in command.enumerated() where position == 0 || isFile(path) {
                let what = position == 0 ? "channel \(name)'s command" : "a file channel \(name)'s command runs"
                try requirePrivate(path, what: what)
                try requirePrivate(parent(of: path), what: "the directory of \(what)")
            }
        }
    }

    /// An absolute path to an existing regular file.
    static func isFile(_ path: String) -> Bool {
        var info = stat()
        return path.hasPrefix("/") && stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    static func parent(of path: String) -> String {
        let parent = (VigilConfig.absolute(path) as NSString).deletingLastPathComponent
        return parent.isEmpty ? "/" : parent
    }

    /// Refuses `path` when someone other than its owner may write it (world-writable, or
    /// group-writable by a group other than root's or the owner's private one) or when it belongs to another user than
    /// this one or root. Follows links: what counts is what will be read or run.
    static func requirePrivate(_ path: String, what: String) throws(DeploymentError) {
        var info = stat()
        guard stat(path, &info) == 0 else { return }  // a missing path gets its own error where it is used
        let mode = String(info.st_mode & 0o7777, radix: 8)
        if info.st_mode & S_IWOTH != 0
            || (info.st_mode & S_IWGRP != 0 && !isTrusted(group: info.st_gid, of: info.st_uid))
        {
            throw DeploymentError(
                paths: [path], exitStatus: .noPermission,
                problem:
                    "\(what) (\(path)) is writable by \(info.st_mode & S_IWOTH != 0 ? "every user" : "group \(info.st_gid)") "
                    + "(mode \(mode)): anyone who can write it decides what Vigil does; make it writable by its owner only"
            )
        }
        if info.st_uid != 0 && info.st_uid != geteuid() {
            throw DeploymentError(
                paths: [path], exitStatus: .noPermission,
                problem:
                    "\(what) (\(path)) is owned by uid \(info.st_uid), neither root nor this user (uid \(geteuid()))")
        }
    }

    /// Root's group, or the owner's own primary group (a user-private group under a umask of 002).
    /// Without account entries (a container), a group numbered as its owner counts as private.
    static func isTrusted(group: gid_t, of owner: uid_t) -> Bool {
        guard group != 0 else { return true }
        guard let entry = getpwuid(owner) else { return group == owner && getgrgid(group) == nil }
        return entry.pointee.pw_gid == group && getgrgid(group).map { $0.pointee.gr_mem.pointee == nil } ?? true
    }

    /// The YAML files of a rules directory and its `tests/`.
    static func ruleFiles(in directory: String) -> [String] {
        var files: [String] = []
        for folder in [directory, directory + "/tests"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            files += names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { folder + "/" + $0 }
        }
        return files
    }

    /// Whether `inner` is `outer` or below it (both resolved).
    static func contains(_ outer: String, _ inner: String) -> Bool {
        inner == outer || inner.hasPrefix(outer.hasSuffix("/") ? outer : outer + "/")
    }

    /// `path` with every link resolved; for a path not created yet, its longest existing ancestor
    /// resolved and the rest appended.
    static func resolved(_ path: String) -> String {
        var existing = path
        var rest: [String] = []
        while !existing.isEmpty, existing != "/" {
            if let real = realpath(existing, nil) {
                defer { free(real) }
                return ([String(cString: real)] + rest.reversed()).joined(separator: "/")
                    .replacingOccurrences(of: "//", with: "/")
            }
            rest.append((existing as NSString).lastPathComponent)
            existing = (existing as NSString).deletingLastPathComponent
        }
        return path
    }
}

/// A deployment Vigil refuses to run in: the paths involved and why.
public struct DeploymentError: ExitStatusProviding, CustomStringConvertible, Sendable {
    public let paths: [String]
    public let exitStatus: ExitStatus
    public let problem: String

    public var description: String { problem }
}
