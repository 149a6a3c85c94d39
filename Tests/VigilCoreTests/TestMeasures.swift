import VigilCore

extension MeasureDeclaration {
    /// The measures of the unit tests' vocabularies: those of `Rules/vocabulary.yaml`, and `energy`
    /// and `steps`, which have no slot in `KnownMeasures`.
    static let forTests: [String: MeasureDeclaration] = [
        "mood": MeasureDeclaration(range: 0...10, unit: "score"),
        "craving": MeasureDeclaration(range: 0...10, unit: "score"),
        "stress": MeasureDeclaration(range: 0...10, unit: "score"),
        "sleep_hours": MeasureDeclaration(range: 0...24, unit: "hours"),
        "energy": MeasureDeclaration(range: 0...10, unit: "score"),
        "steps": MeasureDeclaration(range: 0...100_000, unit: "steps"),
    ]
}
