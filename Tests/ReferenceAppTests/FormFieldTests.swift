import Testing

@testable import appserver

/// Header parameters, form part headers and the names uploaded files are stored under.
@Suite struct FormFieldTests {
    @Test func parsesParametersQuotedOrNot() {
        let parsed = HeaderParameters(parsing: #" form-data ; name="a \"q\" b";filename=plain.txt ; flag; NAME=second"#)
        #expect(parsed.value == "form-data")
        #expect(parsed["name"] == #"a "q" b"#)
        #expect(parsed["filename"] == "plain.txt")
        #expect(parsed["flag"] == "")
        #expect(HeaderParameters(parsing: #"x; name="unclosed"#)["name"] == "unclosed")
    }

    @Test func readsAPartsFieldNameFileNameAndType() {
        let part = FormPart(
            headerBlock:
                "Content-Disposition: form-data; name=\"file\"; filename=\"r\u{e9}sum\u{e9}.pdf\"\r\ncontent-type: application/pdf"
        )
        #expect(part == FormPart(name: "file", filename: "r\u{e9}sum\u{e9}.pdf", contentType: "application/pdf"))
        let extended = FormPart(
            headerBlock: "Content-Disposition: form-data; name=f; filename=\"fallback\"; filename*=UTF-8''caf%C3%A9.txt"
        )
        #expect(extended.filename == "caf\u{e9}.txt")
        #expect(FormPart.decodeExtendedValue("UTF-8''bad%C3") == nil)
        #expect(FormPart.decodeExtendedValue("ISO-8859-1''x") == nil)
    }

    @Test func storesBrowserFileNamesUnderSafeNames() {
        #expect(Upload.storableName("beach.jpg") == "beach.jpg")
        #expect(Upload.storableName("my photo (1).jpg") == "my_photo__1_.jpg")
        #expect(Upload.storableName(#"C:\Users\ann\report.pdf"#) == "report.pdf")
        #expect(Upload.storableName("../../etc/passwd") == "passwd")
        #expect(Upload.storableName(".htaccess") == "htaccess")
        #expect(Upload.storableName("caf\u{e9}.txt") == "caf_.txt")
        #expect(Upload.storableName("...") == nil)
        #expect(Upload.storableName("/") == nil)
    }
}
