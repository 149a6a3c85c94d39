import CVigilVersion

/// Vigil's version: `vigil --version` prints it and `scripts/package` names the Debian package
/// after it. It is written in one place, `Package.swift` (`VIGIL_VERSION` overrides it for a build).
public enum VigilVersion {
    public static let current = String(cString: vigil_version())
}
