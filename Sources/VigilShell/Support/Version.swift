/// Vigil's version: the one place it is written (`vigil --version` prints it). Set it with the
/// heading of a release in CHANGELOG.md when one is cut; `-dev` until then.
public enum VigilVersion {
    public static let current = "0.1.0-dev"
}
