package io.tunshape.tc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UnitsTest {
    @ParameterizedTest(name = "{0} = {1} bytes/s")
    @CsvSource({
        // tc's get_rate64: decimal bit multiples, bps = BYTES per second, bits / 8 truncated
        "9600bit, 1200", "9600, 1200", "220kbit, 27500", "1mbit, 125000", "100mbit, 12500000",
        "1gbit, 125000000", "40gbit, 5000000000", "100gbit, 12500000000", "1tbit, 125000000000",
        "1kibit, 128", "1mibit, 131072", "1gibit, 134217728",
        "1bps, 1", "1kbps, 1000", "1mbps, 1000000", "1gbps, 1000000000", "1kibps, 1024",
        "300bit, 37", "8bit, 1", "7bit, 0", "1.5mbit, 187500", "9600BIT, 1200", "10Mbit, 1250000"
    })
    void ratesFollowTcUnits(String text, long bytes) {
        assertEquals(bytes, Units.parseRate(text).bytesPerSecond());
    }

    @ParameterizedTest(name = "{0} = {1} bytes")
    @CsvSource({
        // tc's get_size: binary multiples; kbit/mbit/gbit are bits
        "1500, 1500", "1500b, 1500", "1k, 1024", "64kb, 65536", "1m, 1048576", "1mb, 1048576",
        "1g, 1073741824", "1gb, 1073741824", "1kbit, 128", "1mbit, 131072", "1gbit, 134217728", "1.5k, 1536",
        "10KB, 10240"
    })
    void sizesAreBinaryAsInTc(String text, long bytes) {
        assertEquals(bytes, Units.parseSize(text).bytes());
    }

    @ParameterizedTest(name = "{0} = {1} us")
    @CsvSource({"2s, 2000000", "500ms, 500000", "100us, 100", "100, 100", "1.5s, 1500000", "2sec, 2000000",
        "3msec, 3000", "7usecs, 7"})
    void timesDefaultToMicroseconds(String text, long us) {
        assertEquals(us, Units.parseTime(text).micros());
    }

    @Test
    void unknownUnitNamesTheUnitAndTheAcceptedForms() {
        UnitException e = assertThrows(UnitException.class, () -> Units.parseRate("9600kbitz"));
        assertTrue(e.getMessage().contains("unknown unit 'kbitz'"), e.getMessage());
        assertTrue(e.getMessage().contains("bytes per second"), e.getMessage());
        e = assertThrows(UnitException.class, () -> Units.parseSize("10 parsecs"));
        assertTrue(e.getMessage().contains("kb"), e.getMessage());
    }

    @Test
    void negativeAndMalformedValuesAreRefused() {
        assertThrows(UnitException.class, () -> Units.parseRate("-1mbit"));
        assertThrows(UnitException.class, () -> Units.parseRate("mbit"));
        assertThrows(UnitException.class, () -> Units.parseSize(""));
        assertThrows(UnitException.class, () -> Units.parseTime("1h"));
        assertThrows(UnitException.class, () -> Units.parseRate("99999999999999999999tbit"));
    }

    @Test
    void ratesPrintInBitsPerSecondInAFormTcReadsBack() {
        assertEquals("9.6kbit", Rate.ofBytes(1200).toString());
        assertEquals("40gbit", Rate.ofBytes(5_000_000_000L).toString());
        assertEquals("296bit", Rate.ofBytes(37).toString());
        assertEquals(Rate.ofBytes(37), Units.parseRate(Rate.ofBytes(37).toString()));
        assertEquals(Rate.ofBytes(187500), Units.parseRate(Rate.ofBytes(187500).toString()));
    }

    @Test
    void handlesAreHexAsInTc() {
        assertEquals(0x00010010L, Handle.parse("1:10").value());
        assertEquals("7473:", Handle.of(0x7473, 0).toString());
        assertEquals("7474:1", Handle.of(0x7474, 1).toString());
        assertEquals(0xFFFFFFFFL, Handle.parse("root").value());
    }
}
