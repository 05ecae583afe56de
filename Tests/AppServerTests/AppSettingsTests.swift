import AppServer
import Testing

@Suite struct AppSettingsTests {
    let settings = AppSettings(
        values: [
            "name": .string("site"), "debug": .bool(true), "port": .int(8080), "ratio": .double(0.5),
            "hosts": .list([.string("a"), .string("b")]), "media_dir": .string("var/media"), "root": .string("/srv"),
            "mixed": .list([.string("a"), .int(1)]),
        ], configDirectory: "/etc/app", generation: 1)

    @Test func typedValuesAndDefaults() throws {
        #expect(try settings.string("name") == "site")
        #expect(try settings.string("missing") == nil)
        #expect(try settings.string("missing", default: "x") == "x")
        #expect(try settings.bool("debug", default: false))
        #expect(try settings.int("port", default: 0) == 8080)
        #expect(try settings.double("ratio", default: 0) == 0.5)
        #expect(try settings.double("port", default: 0) == 8080)
        #expect(try settings.strings("hosts") == ["a", "b"])
        #expect(try settings.strings("missing") == [])
    }

    /// Relative paths are resolved against the config file's directory, as AppServer's own are.
    @Test func pathsAreResolvedAgainstTheConfigDirectory() throws {
        #expect(try settings.path("media_dir", default: "x") == "/etc/app/var/media")
        #expect(try settings.path("root", default: "x") == "/srv")
        #expect(try settings.path("missing", default: "data") == "/etc/app/data")
    }

    @Test func aValueOfTheWrongTypeNamesTheKey() {
        #expect(
            throws: AppSettingError(key: "hosts", expected: "a string", found: .list([.string("a"), .string("b")]))
        ) {
            try settings.string("hosts")
        }
        #expect(
            message(of: { try settings.int("name", default: 0) })
                == "app.name: expected an integer, found the string \"site\"")
        #expect(
            message(of: { try settings.bool("port", default: false) })
                == "app.port: expected true or false, found the integer 8080")
        #expect(
            message(of: { try settings.strings("mixed") })
                == "app.mixed: expected a list of strings, found the integer 1")
    }

    private func message<T>(of body: () throws -> T) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return "\(error)"
        }
    }
}
