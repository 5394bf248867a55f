package io.tunshape.tc;

/**
 * TcCodec's key for a rate table: (rate, mtu, mpu). equals, hashCode and toString written out, as for
 * TbfSpec (RecordMethodsTest).
 */
record TableKey(long rate, int mtu, int mpu) {
    @Override
    public boolean equals(Object o) {
        return o instanceof TableKey k && k.rate == rate && k.mtu == mtu && k.mpu == mpu;
    }

    @Override
    public int hashCode() {
        return (Long.hashCode(rate) * 31 + mtu) * 31 + mpu;
    }

    @Override
    public String toString() {
        return "TableKey[rate=" + rate + ", mtu=" + mtu + ", mpu=" + mpu + "]";
    }
}
