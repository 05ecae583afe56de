#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// HTTP dates (RFC 9110 §5.6.7): formatting IMF-fixdate and parsing all three forms clients still send.
///
/// Hand-written rather than `DateFormatter`: it runs for every `If-Modified-Since` and every `Last-Modified`, and
/// must not depend on locale or time zone settings.
public enum HTTPDate {
    public static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    public static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for `seconds` since the Unix epoch.
    public static func format(_ seconds: Int) -> String {
        let parts = CivilTime(epochSeconds: seconds)
        return "\(weekdays[parts.weekday]), \(pad2(parts.day)) \(months[parts.month - 1]) \(parts.year) "
            + "\(pad2(parts.hour)):\(pad2(parts.minute)):\(pad2(parts.second)) GMT"
    }

    /// Seconds since the epoch for an IMF-fixdate, RFC 850 or asctime date; `nil` when `text` is none of them.
    public static func parse(_ text: Substring) -> Int? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" }).map(String.init)
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT  -> [Sun, 06, Nov, 1994, 08:49:37, GMT]
        // RFC 850:     Sunday, 06-Nov-94 08:49:37 GMT -> [Sunday, 06, Nov, 94, 08:49:37, GMT]
        // asctime:     Sun Nov  6 08:49:37 1994       -> [Sun, Nov, 6, 08:49:37, 1994]
        let day: String, month: String, year: String, time: String
        if words.count == 6, words[5] == "GMT" {
            (day, month, year, time) = (words[1], words[2], words[3], words[4])
        } else if words.count == 5 {
            (day, month, year, time) = (words[2], words[1], words[4], words[3])
        } else {
            return nil
        }
        guard let monthIndex = months.firstIndex(of: month), let dayNumber = Int(day), (1...31).contains(dayNumber),
            var yearNumber = Int(year)
        else { return nil }
        if year.count == 2 {
            // RFC 9110: two-digit years more than 50 years in the future belong to the previous century.
            yearNumber += yearNumber < 70 ? 2000 : 1900
        }
        let clock = time.split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, (0...23).contains(clock[0]), (0...59).contains(clock[1]), (0...60).contains(clock[2])
        else { return nil }
        let days = CivilTime.daysFromCivil(year: yearNumber, month: monthIndex + 1, day: dayNumber)
        return days * 86_400 + clock[0] * 3600 + clock[1] * 60 + clock[2]
    }

    private static func pad2(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}

/// A UTC calendar breakdown of a Unix time, by Howard Hinnant's days-from-civil algorithms (no tz database).
public struct CivilTime {
    public var year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, weekday: Int

    public init(epochSeconds: Int) {
        let days = epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400
        let secondOfDay = epochSeconds - days * 86_400
        hour = secondOfDay / 3600
        minute = secondOfDay % 3600 / 60
        second = secondOfDay % 60
        weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday (4)
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
